import DynamicsEmulator

/// The emulator's record type under a name of its own: the client module has an `ODataRecord` too.
typealias FORecord = ODataRecord
