import ConnectorCore
import Foundation

/// A secret held in memory in clear. Its `description` is always masked, so interpolating it into
/// a log line or an error can never leak it; only `reveal()` gives the text.
public struct SecretValue: Sendable, Equatable, Codable, CustomStringConvertible, CustomDebugStringConvertible {
    private let text: String
    public init(_ text: String) { self.text = text }
    public init(from decoder: any Decoder) throws { text = try decoder.singleValueContainer().decode(String.self) }
    /// Encodes the mask, unless the encoder's `userInfo[.revealSecrets]` is true: printing or
    /// storing a connection can never write a secret by accident.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(encoder.userInfo[.revealSecrets] as? Bool == true ? text : (text.isEmpty ? "" : "••••••"))
    }
    /// The secret itself. Call only where it is used (a signature key, an Authorization header).
    public func reveal() -> String { text }
    public var isEmpty: Bool { text.isEmpty }
    public var description: String { "••••••" }
    public var debugDescription: String { "••••••" }
}

extension CodingUserInfoKey {
    /// Set to `true` to encode `SecretValue`s in clear (writing a sandbox connection file).
    public static let revealSecrets = CodingUserInfoKey(rawValue: "mlc.revealSecrets")!
}

/// One WooCommerce store + one F&O environment and legal entity + mappings + schedules (SPEC §6).
///
/// Decoded strictly: an unknown key anywhere is an error naming it; every key but the required
/// ones has the default documented on its property.
public struct Connection: Sendable, Equatable, Codable {
    public static let currentSchemaVersion = 1

    /// Always 1 today.
    public var schemaVersion: Int
    /// Lower-case letters, digits and `-`, 1–40 characters; used in URLs and store keys.
    public var id: String
    /// A sandbox connection may point at loopback emulators over plain HTTP. Default false.
    public var sandbox: Bool
    public var woocommerce: WooCommerceSettings
    public var dynamics: DynamicsSettings
    public var orders: OrderSettings
    public var mapping: MappingSettings
    public var catalog: CatalogSettings
    public var schedules: ScheduleSettings
    public var alerts: AlertSettings

    enum CodingKeys: String, CodingKey, CaseIterable {
        case schemaVersion, id, sandbox, woocommerce, dynamics, orders, mapping, catalog, schedules, alerts
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try c.decode(Int.self, forKey: .schemaVersion)
        id = try c.decode(String.self, forKey: .id)
        sandbox = try c.decode(.sandbox, default: false)
        woocommerce = try c.decode(WooCommerceSettings.self, forKey: .woocommerce)
        dynamics = try c.decode(DynamicsSettings.self, forKey: .dynamics)
        orders = try c.decode(.orders, default: try OrderSettings.defaults())
        mapping = try c.decode(.mapping, default: try MappingSettings.defaults())
        catalog = try c.decode(.catalog, default: try CatalogSettings.defaults())
        schedules = try c.decode(.schedules, default: try ScheduleSettings.defaults())
        alerts = try c.decode(.alerts, default: try AlertSettings.defaults())
    }

    /// The secret fields, by the name `set-secret` and the sealed envelopes use.
    public static var secretFields: [(name: String, keyPath: WritableKeyPath<Connection, SecretValue>)] { [
        ("woocommerce.consumerKey", \.woocommerce.consumerKey),
        ("woocommerce.consumerSecret", \.woocommerce.consumerSecret),
        ("woocommerce.webhookSecret", \.woocommerce.webhookSecret),
        ("dynamics.clientSecret", \.dynamics.clientSecret),
        ("dynamics.businessEventCode", \.dynamics.businessEventCode),
        ("alerts.webhookURL", \.alerts.webhookURL),
    ] }

    /// Secret fields a connection may leave empty (and that records sealed before the field
    /// existed do not have).
    public static let optionalSecretFields: Set<String> = ["alerts.webhookURL"]
}

/// Decodes an object whose every key is optional from `{}`, so defaults live in one place.
private func decodedDefaults<T: Decodable>(_: T.Type) throws -> T {
    try JSONDecoder().decode(T.self, from: Data("{}".utf8))
}

public struct WooCommerceSettings: Sendable, Equatable, Codable {
    public enum AuthMode: String, Sendable, Codable, CaseIterable { case basic, query, oauth1 }

    /// Required. The store's home URL, e.g. `https://shop.example.com`.
    public var baseURL: String
    /// Required, sealed.
    public var consumerKey: SecretValue
    /// Required, sealed.
    public var consumerSecret: SecretValue
    /// Required, sealed. The secret WooCommerce signs deliveries with.
    public var webhookSecret: SecretValue
    /// Default `basic`.
    public var authMode: AuthMode
    /// Default nil: the store's certificate is checked against the system roots.
    public var caCertificatePEM: String?
    /// Where the store's webhooks deliver. Default nil (set before webhooks are managed).
    public var deliveryURL: String?
    /// Default order.created, order.updated, order.deleted, customer.updated.
    public var topics: [String]
    /// Default true.
    public var reenableDisabledWebhooks: Bool
    /// Allows `oauth1` over plain HTTP outside a sandbox connection. Default false.
    public var allowInsecureHTTP: Bool

    enum CodingKeys: String, CodingKey, CaseIterable {
        case baseURL, consumerKey, consumerSecret, webhookSecret, authMode, caCertificatePEM, deliveryURL, topics, reenableDisabledWebhooks, allowInsecureHTTP
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        baseURL = try c.decode(String.self, forKey: .baseURL)
        consumerKey = try c.decode(SecretValue.self, forKey: .consumerKey)
        consumerSecret = try c.decode(SecretValue.self, forKey: .consumerSecret)
        webhookSecret = try c.decode(SecretValue.self, forKey: .webhookSecret)
        authMode = try c.decode(.authMode, default: .basic)
        caCertificatePEM = try c.decodeIfPresent(String.self, forKey: .caCertificatePEM)
        deliveryURL = try c.decodeIfPresent(String.self, forKey: .deliveryURL)
        topics = try c.decode(.topics, default: ["order.created", "order.updated", "order.deleted", "customer.updated"])
        reenableDisabledWebhooks = try c.decode(.reenableDisabledWebhooks, default: true)
        allowInsecureHTTP = try c.decode(.allowInsecureHTTP, default: false)
    }
}

public struct DynamicsSettings: Sendable, Equatable, Codable {
    /// Required. `https://{env}.operations.dynamics.com` (no path, no trailing slash).
    public var environmentURL: String
    /// Required.
    public var tenantId: String
    /// Required.
    public var clientId: String
    /// Required, sealed.
    public var clientSecret: SecretValue
    /// Default `https://login.microsoftonline.com`.
    public var authorityHost: String
    /// Required. The company (`dataAreaId`) every read and write is scoped to; stored lower-case.
    public var legalEntity: String
    /// Sealed. Default: 32 random bytes generated at `connection add` (the `?code=` of the
    /// business-event endpoint).
    public var businessEventCode: SecretValue
    /// Default true: header and lines go in one `$batch` changeset with our own number.
    public var supplySalesOrderNumber: Bool

    enum CodingKeys: String, CodingKey, CaseIterable {
        case environmentURL, tenantId, clientId, clientSecret, authorityHost, legalEntity, businessEventCode, supplySalesOrderNumber
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        environmentURL = try c.decode(String.self, forKey: .environmentURL)
        tenantId = try c.decode(String.self, forKey: .tenantId)
        clientId = try c.decode(String.self, forKey: .clientId)
        clientSecret = try c.decode(SecretValue.self, forKey: .clientSecret)
        authorityHost = try c.decode(.authorityHost, default: "https://login.microsoftonline.com")
        legalEntity = try c.decode(String.self, forKey: .legalEntity)
        businessEventCode = try c.decode(.businessEventCode, default: SecretValue(""))
        supplySalesOrderNumber = try c.decode(.supplySalesOrderNumber, default: true)
    }
}

public struct OrderSettings: Sendable, Equatable, Codable {
    /// Default processing, completed.
    public var paidStatuses: [String]
    /// Orders modified before this are never posted. Default nil: from the day the connection is added.
    public var startDate: Date?
    /// Prefix of every key written to F&O; unique per legal entity. 1–6 letters or digits. Default `WC`.
    public var referencePrefix: String
    /// How far back each poll re-reads. Default 10.
    public var pollOverlapMinutes: Int

    enum CodingKeys: String, CodingKey, CaseIterable { case paidStatuses, startDate, referencePrefix, pollOverlapMinutes }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        paidStatuses = try c.decode(.paidStatuses, default: ["processing", "completed"])
        if let text = try c.decodeIfPresent(String.self, forKey: .startDate) {
            // What the connection store writes (with milliseconds) without Foundation's format
            // style, whose first use builds a calendar cache on every cold start; other ISO 8601
            // forms (an offset instead of Z) through the style.
            guard let date = Formatting.parseTimestamp(text) ?? (try? Date(text, strategy: .iso8601)) else {
                throw DecodingError.dataCorruptedError(forKey: .startDate, in: c, debugDescription: "not an ISO 8601 date-time such as 2026-11-01T00:00:00Z")
            }
            startDate = date
        } else {
            startDate = nil
        }
        referencePrefix = try c.decode(.referencePrefix, default: "WC")
        pollOverlapMinutes = try c.decode(.pollOverlapMinutes, default: 10)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(paidStatuses, forKey: .paidStatuses)
        try c.encodeIfPresent(startDate.map { Formatting.timestamp($0) }, forKey: .startDate)
        try c.encode(referencePrefix, forKey: .referencePrefix)
        try c.encode(pollOverlapMinutes, forKey: .pollOverlapMinutes)
    }

    static func defaults() throws -> Self { try decodedDefaults(Self.self) }
}

/// SPEC §7. Checked before anything is posted.
public struct MappingSettings: Sendable, Equatable, Codable {
    public enum GuestPolicy: String, Sendable, Codable, CaseIterable { case sharedAccount, perEmail }
    public enum PaymentPosting: String, Sendable, Codable, CaseIterable { case onPaid, never }
    public enum RefundModel: String, Sendable, Codable, CaseIterable { case journal, journalAndReturn }

    public struct Gateway: Sendable, Equatable, Codable {
        /// F&O `CustomerPaymentMethodName`.
        public var paymentMethod: String
        /// Payment journal name (e.g. `CustPay`).
        public var journalName: String
        /// Offset bank account.
        public var offsetAccount: String
        /// `onPaid` (cards, wallets) or `never` (cash on delivery, bank transfer, invoice).
        public var post: PaymentPosting

        enum CodingKeys: String, CodingKey, CaseIterable { case paymentMethod, journalName, offsetAccount, post }
        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            paymentMethod = try c.decode(String.self, forKey: .paymentMethod)
            journalName = try c.decode(String.self, forKey: .journalName)
            offsetAccount = try c.decode(String.self, forKey: .offsetAccount)
            post = try c.decode(PaymentPosting.self, forKey: .post)
        }
    }

    public struct DestinationTaxGroup: Sendable, Equatable, Codable {
        /// ISO country code as WooCommerce sends it (`US`).
        public var country: String
        /// State code, or nil for the whole country.
        public var state: String?
        /// F&O `SalesTaxGroupCode`.
        public var salesTaxGroup: String

        enum CodingKeys: String, CodingKey, CaseIterable { case country, state, salesTaxGroup }
        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            country = try c.decode(String.self, forKey: .country)
            state = try c.decodeIfPresent(String.self, forKey: .state)
            salesTaxGroup = try c.decode(String.self, forKey: .salesTaxGroup)
        }
    }

    /// Default `sharedAccount`.
    public var guestPolicy: GuestPolicy
    /// The shared guest account (with `sharedAccount`). Default `{referencePrefix}GUEST`.
    public var guestAccount: String?
    /// Digits the Woo customer id is zero-padded to in the account number. Default 8.
    public var customerAccountDigits: Int
    /// Customer group for new customers. Default `WEB`.
    public var customerGroup: String
    /// SKU → item number where they differ; otherwise the SKU is the item number.
    public var items: [String: String]
    /// Woo attribute name (e.g. `Size`) → F&O dimension: color, size, style or config.
    public var variantDimensions: [String: String]
    /// Woo tax class (`""` = standard) → `SalesTaxItemGroupCode`.
    public var taxClasses: [String: String]
    /// Destination → `SalesTaxGroupCode`; the most specific match wins.
    public var destinationTaxGroups: [DestinationTaxGroup]
    /// Tax difference tolerated when comparing with F&O. Default "0.01".
    public var taxTolerance: Decimal
    /// Non-stock item posted for shipping lines. Default nil: an order with shipping parks.
    public var shippingItem: String?
    /// Non-stock item posted for fee lines. Default nil: an order with fees parks.
    public var feeItem: String?
    /// Woo payment gateway id (`stripe`, `cod`) → how it is posted.
    public var paymentGateways: [String: Gateway]
    /// Default `journal`.
    public var refundModel: RefundModel
    /// Currencies that may be posted; empty = any. Default empty.
    public var currencies: [String]
    /// Default financial dimensions on orders and journal lines, e.g. `{"Channel": "WEB"}`.
    public var defaultDimensions: [String: String]
    /// Site and warehouse on order lines. Default nil (F&O's item defaults).
    public var site: String?
    public var warehouse: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case guestPolicy, guestAccount, customerAccountDigits, customerGroup, items, variantDimensions, taxClasses,
             destinationTaxGroups, taxTolerance, shippingItem, feeItem, paymentGateways, refundModel, currencies,
             defaultDimensions, site, warehouse
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guestPolicy = try c.decode(.guestPolicy, default: .sharedAccount)
        guestAccount = try c.decodeIfPresent(String.self, forKey: .guestAccount)
        customerAccountDigits = try c.decode(.customerAccountDigits, default: 8)
        customerGroup = try c.decode(.customerGroup, default: "WEB")
        items = try c.decode(.items, default: [:])
        variantDimensions = try c.decode(.variantDimensions, default: [:])
        taxClasses = try c.decode(.taxClasses, default: [:])
        destinationTaxGroups = try c.decode(.destinationTaxGroups, default: [])
        let tolerance = try c.decode(.taxTolerance, default: "0.01")
        guard let parsed = Formatting.decimal(tolerance) else {
            throw DecodingError.dataCorruptedError(forKey: .taxTolerance, in: c, debugDescription: "not a decimal string such as \"0.01\"")
        }
        taxTolerance = parsed
        shippingItem = try c.decodeIfPresent(String.self, forKey: .shippingItem)
        feeItem = try c.decodeIfPresent(String.self, forKey: .feeItem)
        paymentGateways = try c.decode(.paymentGateways, default: [:])
        refundModel = try c.decode(.refundModel, default: .journal)
        currencies = try c.decode(.currencies, default: [])
        defaultDimensions = try c.decode(.defaultDimensions, default: [:])
        site = try c.decodeIfPresent(String.self, forKey: .site)
        warehouse = try c.decodeIfPresent(String.self, forKey: .warehouse)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(guestPolicy, forKey: .guestPolicy)
        try c.encodeIfPresent(guestAccount, forKey: .guestAccount)
        try c.encode(customerAccountDigits, forKey: .customerAccountDigits)
        try c.encode(customerGroup, forKey: .customerGroup)
        try c.encode(items, forKey: .items)
        try c.encode(variantDimensions, forKey: .variantDimensions)
        try c.encode(taxClasses, forKey: .taxClasses)
        try c.encode(destinationTaxGroups, forKey: .destinationTaxGroups)
        try c.encode("\(taxTolerance)", forKey: .taxTolerance)
        try c.encodeIfPresent(shippingItem, forKey: .shippingItem)
        try c.encodeIfPresent(feeItem, forKey: .feeItem)
        try c.encode(paymentGateways, forKey: .paymentGateways)
        try c.encode(refundModel, forKey: .refundModel)
        try c.encode(currencies, forKey: .currencies)
        try c.encode(defaultDimensions, forKey: .defaultDimensions)
        try c.encodeIfPresent(site, forKey: .site)
        try c.encodeIfPresent(warehouse, forKey: .warehouse)
    }

    static func defaults() throws -> Self { try decodedDefaults(Self.self) }
}

/// SPEC §12.
public struct CatalogSettings: Sendable, Equatable, Codable {
    public enum SellableRule: String, Sendable, Codable, CaseIterable { case itemGroup, category, list }
    public enum OwnedField: String, Sendable, Codable, CaseIterable { case price, stock, name, description, status }
    public enum RetiredAction: String, Sendable, Codable, CaseIterable { case draft, outOfStock }

    /// Default false: the catalog is not pushed until it is switched on.
    public var enabled: Bool
    /// How web-sellable released items are recognised. Default `itemGroup`.
    public var webSellableBy: SellableRule
    /// Item groups, category names or item numbers (per `webSellableBy`). Default `["WEB"]`.
    public var webSellableValues: [String]
    /// Product names in this language (ProductTranslations); nil = ProductsV2 names.
    public var language: String?
    /// Price agreement group; nil = the released product's base SalesPrice.
    public var priceGroup: String?
    /// Warehouses whose available on-hand is summed. Default empty = all.
    public var warehouses: [String]
    /// Default false: new products are created as drafts.
    public var publishNew: Bool
    /// Default price, stock, name, status.
    public var ownedFields: [OwnedField]
    /// Default `draft`.
    public var retiredAction: RetiredAction
    /// Largest share of the catalog one run may draft, zero or unpublish. Default 0.02.
    public var safetyValveShare: Double
    /// Requests per second toward WooCommerce. Default 5.
    public var wooRequestsPerSecond: Double
    /// Parallel requests toward WooCommerce. Default 2.
    public var wooConcurrency: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, webSellableBy, webSellableValues, language, priceGroup, warehouses, publishNew, ownedFields,
             retiredAction, safetyValveShare, wooRequestsPerSecond, wooConcurrency
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decode(.enabled, default: false)
        webSellableBy = try c.decode(.webSellableBy, default: .itemGroup)
        webSellableValues = try c.decode(.webSellableValues, default: ["WEB"])
        language = try c.decodeIfPresent(String.self, forKey: .language)
        priceGroup = try c.decodeIfPresent(String.self, forKey: .priceGroup)
        warehouses = try c.decode(.warehouses, default: [])
        publishNew = try c.decode(.publishNew, default: false)
        ownedFields = try c.decode(.ownedFields, default: [.price, .stock, .name, .status])
        retiredAction = try c.decode(.retiredAction, default: .draft)
        safetyValveShare = try c.decode(.safetyValveShare, default: 0.02)
        wooRequestsPerSecond = try c.decode(.wooRequestsPerSecond, default: 5)
        wooConcurrency = try c.decode(.wooConcurrency, default: 2)
    }

    static func defaults() throws -> Self { try decodedDefaults(Self.self) }
}

/// Five-field cron expressions (UTC).
public struct ScheduleSettings: Sendable, Equatable, Codable {
    /// Default every 5 minutes.
    public var backfill: String
    /// Default every 15 minutes.
    public var catalog: String

    enum CodingKeys: String, CodingKey, CaseIterable { case backfill, catalog }
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        backfill = try c.decode(.backfill, default: "*/5 * * * *")
        catalog = try c.decode(.catalog, default: "*/15 * * * *")
    }
    static func defaults() throws -> Self { try decodedDefaults(Self.self) }
}

public struct AlertSettings: Sendable, Equatable, Codable {
    /// Slack/Teams-compatible incoming webhook — a bearer credential in itself, so sealed like
    /// the other secrets. Default empty: alerts go to the log, the store and metrics only.
    public var webhookURL: SecretValue
    /// One alert per connection and reason per window. Default 60.
    public var windowMinutes: Int

    enum CodingKeys: String, CodingKey, CaseIterable { case webhookURL, windowMinutes }
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        webhookURL = SecretValue(try c.decodeIfPresent(String.self, forKey: .webhookURL) ?? "")
        windowMinutes = try c.decode(.windowMinutes, default: 60)
    }
    static func defaults() throws -> Self { try decodedDefaults(Self.self) }
}
