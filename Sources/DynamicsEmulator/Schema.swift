import Foundation

/// The EDM namespace every F&O entity and enum type lives in.
let dataEntitiesNamespace = "Microsoft.Dynamics.DataEntities"

/// The kind of value a property holds, from its EDM type in `entities.json`.
public enum EDMKind: Sendable, Equatable {
    case string
    case decimal
    case int32
    case int64
    case double
    case dateTimeOffset
    case boolean
    /// `Microsoft.Dynamics.DataEntities.<name>`.
    case enumeration(String)
    /// Any EDM type the emulator does not model (accepted as any JSON value).
    case other(String)

    init(edmType: String) {
        switch edmType {
        case "Edm.String", "Edm.Guid": self = .string
        case "Edm.Decimal": self = .decimal
        case "Edm.Int32", "Edm.Int16", "Edm.Byte": self = .int32
        case "Edm.Int64": self = .int64
        case "Edm.Double", "Edm.Single": self = .double
        case "Edm.DateTimeOffset", "Edm.Date": self = .dateTimeOffset
        case "Edm.Boolean": self = .boolean
        default:
            if edmType.hasPrefix(dataEntitiesNamespace + ".") {
                self = .enumeration(String(edmType.dropFirst(dataEntitiesNamespace.count + 1)))
            } else {
                self = .other(edmType)
            }
        }
    }

    var isNumeric: Bool {
        switch self {
        case .decimal, .int32, .int64, .double: return true
        default: return false
        }
    }
}

/// One property of an entity type, as `entities.json` declares it.
public struct PropertySchema: Sendable, Equatable {
    public var name: String
    /// The EDM type text, e.g. `Edm.String` or `Microsoft.Dynamics.DataEntities.NoYes`.
    public var edmType: String
    public var nullable: Bool
    public var kind: EDMKind
}

/// A navigation property: its target entity set and whether it is a collection.
public struct NavigationSchema: Sendable, Equatable {
    public var name: String
    public var target: String
    public var collection: Bool
}

/// One entity set with its entity type, from `entities.json`.
public struct EntitySetSchema: Sendable {
    public var name: String
    /// Full type name, e.g. `Microsoft.Dynamics.DataEntities.CustomerV3`.
    public var entityType: String
    public var keys: [String]
    /// Properties in metadata order.
    public var properties: [PropertySchema]
    public var navigation: [NavigationSchema]
    let propertyIndex: [String: Int]

    public func property(_ name: String) -> PropertySchema? { propertyIndex[name].map { properties[$0] } }

    /// Whether the entity is per company (has `dataAreaId`).
    public var isCompanySpecific: Bool { propertyIndex["dataAreaId"] != nil }

    public func navigationProperty(_ name: String) -> NavigationSchema? { navigation.first { $0.name == name } }
}

/// All entity sets and enum types the emulator serves, read from the shipped `entities.json`.
public struct EmulatorSchema: Sendable {
    public var entitySets: [String: EntitySetSchema]
    /// Enum type name → members in declaration order (name, value).
    public var enums: [String: [(name: String, value: Int)]]

    /// The schema shipped with the emulator (a copy of `fixtures/dynamics/entities.json`).
    public static let shipped: EmulatorSchema = {
        guard let url = Bundle.module.url(forResource: "entities", withExtension: "json"),
              let data = try? Data(contentsOf: url)
        else { fatalError("DynamicsEmulator: entities.json resource missing") }
        do { return try EmulatorSchema(json: Array(data)) } catch { fatalError("DynamicsEmulator: entities.json unreadable: \(error)") }
    }()

    /// Builds the schema from the `entities.json` format.
    public init(json: [UInt8]) throws {
        guard case .object(let root) = try ODataJSON.parse(json) else { throw JSONSyntaxError(offset: 0, reason: "root is not an object") }
        var sets: [String: EntitySetSchema] = [:]
        var enums: [String: [(name: String, value: Int)]] = [:]
        for (name, value) in root.pairs {
            guard case .object(let body) = value else { continue }
            if name == "enums" {
                for (enumName, members) in body.pairs {
                    enums[enumName] = (members.objectValue?.pairs ?? []).map { ($0.key, $0.value.intValue ?? 0) }
                }
                continue
            }
            var properties: [PropertySchema] = []
            for (p, spec) in body["properties"]?.objectValue?.pairs ?? [] {
                let type = spec["type"]?.stringValue ?? "Edm.String"
                let nullable: Bool
                if case .bool(let b)? = spec["nullable"] { nullable = b } else { nullable = true }
                properties.append(PropertySchema(name: p, edmType: type, nullable: nullable, kind: EDMKind(edmType: type)))
            }
            var navigation: [NavigationSchema] = []
            for (n, spec) in body["navigation"]?.objectValue?.pairs ?? [] {
                var collection = false
                if case .bool(let b)? = spec["collection"] { collection = b }
                navigation.append(NavigationSchema(name: n, target: spec["target"]?.stringValue ?? "", collection: collection))
            }
            var index: [String: Int] = [:]
            for (i, p) in properties.enumerated() { index[p.name] = i }
            sets[name] = EntitySetSchema(
                name: name,
                entityType: body["entityType"]?.stringValue ?? "",
                keys: body["keys"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                properties: properties,
                navigation: navigation,
                propertyIndex: index)
        }
        self.entitySets = sets
        self.enums = enums
    }

    /// The first declared member (F&O's empty value for an enum field).
    func firstMember(of enumName: String) -> String { enums[enumName]?.first?.name ?? "" }

    func isMember(_ member: String, of enumName: String) -> Bool { enums[enumName]?.contains { $0.name == member } ?? false }
}

extension EntitySetSchema {
    /// The short type name without namespace, e.g. `CustomerV3`.
    var shortTypeName: String {
        entityType.hasPrefix(dataEntitiesNamespace + ".") ? String(entityType.dropFirst(dataEntitiesNamespace.count + 1)) : entityType
    }
}
