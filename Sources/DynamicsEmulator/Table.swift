import Foundation
import Synchronization

/// One entity set's rows in insertion order (the order every read returns them in), with the
/// hash indexes a real F&O table has: on its primary key and on the fields records are looked
/// up by (`SalesOrderNumber`, `CustomersOrderReference`, `CustomerAccount`, `ItemNumber`, …).
///
/// An index only narrows: it files a row under its value's ASCII text lowercased, and rows
/// whose value another comparison could match (non-ASCII text, text that may be a date-time,
/// anything but a string or an integral number) under "loose", which every look-up includes.
/// Callers check each candidate with the comparison they always made, so what a look-up finds
/// — and in which order — is what a scan of every row found.
struct Table: Sendable, RandomAccessCollection, ExpressibleByArrayLiteral {
    private var rows: [StoredRow] = []
    /// The key properties and the value an absent key part reads as.
    private let keyFields: [String]
    private let keyDefaults: [ODataValue]
    /// Indexed string properties (absent reads as "").
    private let lookupFields: [String]
    private var byKey: [String: [Int]] = [:]
    private var looseKeys: [Int] = []
    private var byField: [String: [String: [Int]]] = [:]
    private var looseFields: [String: [Int]] = [:]
    /// Counts every row read (``DynamicsEmulator/rowsRead``).
    private let probe: RowProbe?
    /// While a changeset runs: how to undo each change, newest last.
    private var undo: [Undo]?

    enum Undo: Sendable {
        case appended
        case replaced(Int, StoredRow)
        case rows([StoredRow])
    }

    /// An empty table without indexes (what `tables[name, default: []]` reads).
    init(arrayLiteral elements: StoredRow...) {
        precondition(elements.isEmpty, "Table literals are empty; rows go through append")
        keyFields = []
        keyDefaults = []
        lookupFields = []
        probe = nil
    }

    init(keyFields: [String], keyDefaults: [ODataValue], lookupFields: [String], probe: RowProbe?) {
        self.keyFields = keyFields
        self.keyDefaults = keyDefaults
        self.lookupFields = lookupFields
        self.probe = probe
        byField = Dictionary(uniqueKeysWithValues: lookupFields.map { ($0, [:]) })
    }

    // MARK: Collection

    var startIndex: Int { 0 }
    var endIndex: Int { rows.count }

    subscript(position: Int) -> StoredRow {
        get {
            probe?.count(1)
            return rows[position]
        }
        set {
            let old = rows[position]
            undo?.append(.replaced(position, old))
            rows[position] = newValue
            reindex(position, from: old, to: newValue)
        }
    }

    // MARK: changes

    mutating func append(_ row: StoredRow) {
        undo?.append(.appended)
        rows.append(row)
        index(rows.count - 1, row)
    }

    @discardableResult
    mutating func remove(at position: Int) -> StoredRow {
        undo?.append(.rows(rows))
        let row = rows.remove(at: position)
        rebuild()
        return row
    }

    mutating func removeAll(where shouldBeRemoved: (StoredRow) -> Bool) {
        let before = rows.count
        let old = rows
        rows.removeAll(where: shouldBeRemoved)
        guard rows.count != before else { return }
        undo?.append(.rows(old))
        rebuild()
    }

    /// From now on every change is recorded, so ``rollBack()`` can undo it.
    mutating func startRecording() { undo = [] }

    /// Keeps the changes made since ``startRecording()``.
    mutating func stopRecording() { undo = nil }

    /// Undoes every change since ``startRecording()``, newest first.
    mutating func rollBack() {
        let steps = undo ?? []
        undo = nil
        for step in steps.reversed() {
            switch step {
            case .appended:
                let row = rows.removeLast()
                unindex(rows.count, row)
            case .replaced(let position, let old):
                let current = rows[position]
                rows[position] = old
                reindex(position, from: current, to: old)
            case .rows(let old):
                rows = old
                rebuild()
            }
        }
    }

    // MARK: look-ups

    /// Positions (ascending) of the rows whose key may equal `key`; nil when the index cannot
    /// narrow it (a key part missing, non-ASCII text, a date-time, a fraction): scan them all.
    func keyCandidates(_ key: [String: ODataValue]) -> [Int]? {
        guard !keyFields.isEmpty else { return rows.isEmpty ? [] : nil }
        var parts: [ODataValue] = []
        for field in keyFields {
            guard let wanted = key[field] else { return nil }
            parts.append(wanted)
        }
        guard let bucket = Table.bucket(parts) else { return nil }
        return Table.merged(byKey[bucket] ?? [], looseKeys)
    }

    /// Positions (ascending) of the rows whose `field` may equal `text` (ignoring ASCII case);
    /// nil when the field has no index or `text` cannot be filed: scan them all.
    func candidates(_ field: String, _ text: String) -> [Int]? {
        if rows.isEmpty { return [] }
        guard let index = byField[field], let bucket = Table.textBucket(text) else { return nil }
        return Table.merged(index[bucket] ?? [], looseFields[field] ?? [])
    }

    /// ``candidates(_:_:)`` or every position.
    func positions(_ field: String, _ text: String) -> [Int] {
        candidates(field, text) ?? Array(indices)
    }

    // MARK: filing

    /// The ASCII text lowercased; nil for text a case-insensitive or date comparison could
    /// match otherwise (non-ASCII, or shaped like an ISO date-time).
    static func textBucket(_ text: String) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            guard byte < 0x80 else { return nil }
            bytes.append(byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte)
        }
        // ISODate.parse's shape: "YYYY-MM-DDTHH:MM:SS…Z".
        if bytes.count >= 20, text.utf8.last == UInt8(ascii: "Z"), bytes[4] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "t") { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The bucket of a whole key; nil when any part cannot be filed.
    static func bucket(_ parts: [ODataValue]) -> String? {
        var out = ""
        for part in parts {
            switch part {
            case .string(let s):
                guard let b = textBucket(s) else { return nil }
                out += "s" + b
            case .number(let d):
                guard d.isIntegral, d.magnitude < 1_000_000_000_000_000 else { return nil }
                out += "n" + String(NSDecimalNumber(decimal: d).int64Value)
            default:
                return nil
            }
            out += "\u{1F}"
        }
        return out
    }

    private func keyBucket(_ row: StoredRow) -> String? {
        Table.bucket(keyFields.indices.map { row.values[keyFields[$0]] ?? keyDefaults[$0] })
    }

    private func fieldBucket(_ row: StoredRow, _ field: String) -> String? {
        guard let value = row.values[field] else { return "" }
        guard case .string(let s) = value else { return nil }
        return Table.textBucket(s)
    }

    private mutating func index(_ position: Int, _ row: StoredRow) {
        if !keyFields.isEmpty {
            if let b = keyBucket(row) { byKey[b, default: []].append(position) } else { looseKeys.append(position) }
        }
        for field in lookupFields {
            if let b = fieldBucket(row, field) { byField[field, default: [:]][b, default: []].append(position) } else { looseFields[field, default: []].append(position) }
        }
    }

    /// Takes out the last position (an append undone).
    private mutating func unindex(_ position: Int, _ row: StoredRow) {
        if !keyFields.isEmpty {
            if let b = keyBucket(row) { Table.drop(position, from: &byKey[b]) } else { Table.dropLast(position, from: &looseKeys) }
        }
        for field in lookupFields {
            if let b = fieldBucket(row, field) { Table.drop(position, from: &byField[field]![b]) } else { Table.dropLast(position, from: &looseFields[field, default: []]) }
        }
    }

    private mutating func reindex(_ position: Int, from old: StoredRow, to new: StoredRow) {
        if !keyFields.isEmpty {
            let (a, b) = (keyBucket(old), keyBucket(new))
            if a != b {
                if let a { Table.drop(position, from: &byKey[a]) } else { Table.remove(position, from: &looseKeys) }
                if let b { Table.insert(position, into: &byKey[b, default: []]) } else { Table.insert(position, into: &looseKeys) }
            }
        }
        for field in lookupFields {
            let (a, b) = (fieldBucket(old, field), fieldBucket(new, field))
            guard a != b else { continue }
            if let a { Table.drop(position, from: &byField[field]![a]) } else { Table.remove(position, from: &looseFields[field, default: []]) }
            if let b { Table.insert(position, into: &byField[field, default: [:]][b, default: []]) } else { Table.insert(position, into: &looseFields[field, default: []]) }
        }
    }

    private mutating func rebuild() {
        byKey = [:]
        looseKeys = []
        byField = Dictionary(uniqueKeysWithValues: lookupFields.map { ($0, [:]) })
        looseFields = [:]
        for (position, row) in rows.enumerated() { index(position, row) }
    }

    // Sorted position lists.

    private static func drop(_ position: Int, from list: inout [Int]?) {
        guard var l = list else { return }
        list = nil
        remove(position, from: &l)
        list = l.isEmpty ? nil : l
    }

    private static func dropLast(_ position: Int, from list: inout [Int]) {
        if list.last == position { list.removeLast() } else { remove(position, from: &list) }
    }

    private static func remove(_ position: Int, from list: inout [Int]) {
        let at = insertionPoint(position, list)
        if at < list.count, list[at] == position { list.remove(at: at) }
    }

    private static func insert(_ position: Int, into list: inout [Int]) {
        let at = insertionPoint(position, list)
        if at < list.count, list[at] == position { return }
        list.insert(position, at: at)
    }

    private static func insertionPoint(_ position: Int, _ list: [Int]) -> Int {
        var low = 0
        var high = list.count
        while low < high {
            let mid = (low + high) / 2
            if list[mid] < position { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Two ascending lists as one, without repeats.
    static func merged(_ a: [Int], _ b: [Int]) -> [Int] {
        if b.isEmpty { return a }
        if a.isEmpty { return b }
        var out: [Int] = []
        out.reserveCapacity(a.count + b.count)
        var i = 0
        var j = 0
        while i < a.count || j < b.count {
            let next: Int
            if j == b.count || (i < a.count && a[i] <= b[j]) { next = a[i]; i += 1 } else { next = b[j]; j += 1 }
            if out.last != next { out.append(next) }
        }
        return out
    }
}

/// Counts the rows an emulator's requests read (shared by every table of one ``DataStore`` and
/// its copies): what shows that a look-up reads the same few rows however many are stored.
final class RowProbe: Sendable {
    private let rows = Atomic<Int>(0)
    func count(_ n: Int) { rows.add(n, ordering: .relaxed) }
    var total: Int { rows.load(ordering: .relaxed) }
}

/// The calling thread's CPU time (for work that does not suspend: a thread may change at an `await`).
enum ThreadCPU {
    static func nanoseconds() -> Int {
        var spec = timespec()
        guard clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec) == 0 else { return 0 }
        return Int(spec.tv_sec) * 1_000_000_000 + Int(spec.tv_nsec)
    }
}
