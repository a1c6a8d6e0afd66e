import DynamicsClient

/// The client's record type under a name of its own: the emulator module has an `ODataRecord` too.
typealias PlannedRecord = ODataRecord
