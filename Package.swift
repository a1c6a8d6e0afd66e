// swift-tools-version: 6.1
import PackageDescription

/// Release executables start cold for every event on a FaaS, so they are linked for start-up:
/// - position-dependent: the loader then has no 3 MB of relative relocations to apply and no
///   pages of data to dirty doing it (the executable's own addresses are fixed, as in Go's
///   default builds; shared libraries, heap and stacks stay randomized);
/// - without every symbol exported: the runtime's own `dladdr` at start-up walks the whole
///   dynamic symbol table;
/// - with the functions its cold start runs placed together (infra/image/cold-start/<name>.order,
///   made by scripts/cold-start-order; it takes effect with scripts/build-release, which gives
///   every function its own section), so a start maps a few MiB of code instead of pages all
///   over 30.
/// docs/benchmarks.md has the figures.
func coldStartLinking(_ product: String) -> [LinkerSetting] {
    [
        .unsafeFlags([
            "-Xlinker", "-no-pie", "-Xlinker", "--no-export-dynamic",
            "-Xlinker", "--section-ordering-file=\(Context.packageDirectory)/infra/image/cold-start/\(product).order",
        ], .when(platforms: [.linux], configuration: .release)),
    ]
}

/// Every function ships as its own thin executable whose sources live in `functions/<name>/`
/// (wiring only); the fixture events and README beside `main.swift` are not sources.
func function(_ name: String) -> Target {
    .executableTarget(
        name: name,
        dependencies: [
            "ConnectorRuntime", "ConnectorFlows", "ConnectorConnections", "ConnectorRemotes", "ConnectorCore",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ],
        path: "functions/\(name)",
        exclude: ["README.md", "events"],
        linkerSettings: coldStartLinking(name)
    )
}

let package = Package(
    name: "ml-connector",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mlc", targets: ["mlc"]),
        .executable(name: "webhook-receiver", targets: ["webhook-receiver"]),
        .executable(name: "order-poster", targets: ["order-poster"]),
        .executable(name: "catalog-push", targets: ["catalog-push"]),
        .executable(name: "backfill-poll", targets: ["backfill-poll"]),
        .executable(name: "mlc-fuzz", targets: ["mlc-fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-http-types", exact: "1.8.0"),
        .package(url: "https://github.com/vapor/sqlite-nio", exact: "1.13.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio", exact: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", exact: "2.37.6"),
        // GET /metrics: the swift-metrics API in the code, Prometheus text out (SPEC §11).
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
    ],
    targets: [
        // Typed ids, errors, clocks, JSON log lines, CloudEvents — no I/O.
        .target(name: "ConnectorCore", dependencies: [
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // The KeyValueStore protocol, leases over it, and the in-memory backend.
        .target(name: "ConnectorStore", dependencies: ["ConnectorCore"]),
        // SQLite as sqlite-nio bundles it (its `VaporCSQLite` module), driven through the C API.
        .target(name: "ConnectorSQLiteShim", dependencies: [.product(name: "SQLiteNIO", package: "sqlite-nio")]),
        .target(name: "ConnectorStoreSQLite", dependencies: [
            "ConnectorStore", "ConnectorSQLiteShim",
            .product(name: "SQLiteNIO", package: "sqlite-nio"),
        ]),
        // PostgreSQL (production): postgres-nio's pooled client, versioned migrations.
        .target(name: "ConnectorStorePostgres", dependencies: [
            "ConnectorStore",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Connection records: strict schema, defaults, sealed secrets.
        .target(name: "ConnectorConnections", dependencies: [
            "ConnectorCore", "ConnectorStore",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // WooCommerce wire facts: webhook signature, delivery headers, store URL identity.
        .target(name: "WooCommerceAPI", dependencies: [
            "ConnectorCore",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // The F&O side: Entra ID tokens, OData reads and writes, `$batch`, throttling.
        .target(name: "DynamicsClient", dependencies: [
            "ConnectorCore",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Pure WooCommerce → F&O translation (SPEC §7, §8): no I/O.
        .target(name: "ConnectorMapping", dependencies: [
            "ConnectorCore", "ConnectorConnections", "DynamicsClient", "WooCommerceClient",
        ]),
        // Use cases: webhook intake, order posting; catalog and backfill later.
        .target(name: "ConnectorFlows", dependencies: [
            "ConnectorCore", "ConnectorStore", "ConnectorConnections", "WooCommerceAPI",
            "ConnectorMapping", "DynamicsClient", "WooCommerceClient",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The live clients for a connection over one shared HTTP client (wiring, no logic).
        .target(name: "ConnectorRemotes", dependencies: [
            "ConnectorCore", "ConnectorStore", "ConnectorConnections", "ConnectorFlows", "DynamicsClient", "WooCommerceClient",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
        ]),
        // Front doors: once and http (CloudEvents) adapters, mode selection, store from URL.
        .target(name: "ConnectorRuntime", dependencies: [
            "ConnectorCore", "ConnectorStore", "ConnectorStoreSQLite", "ConnectorStorePostgres",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // Both emulators set up for a web shop, a ready connection file, a scripted shopper:
        // shared by `mlc sandbox`, `mlc demo` and the end-to-end tests.
        .target(name: "ConnectorSandbox", dependencies: [
            "ConnectorCore", "WooCommerceEmulator", "DynamicsEmulator",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // `mlc demo`: the main job end to end on the embedded default.
        .target(name: "ConnectorDemo", dependencies: [
            "ConnectorRuntime", "ConnectorFlows", "ConnectorConnections", "ConnectorStore", "ConnectorCore",
            "ConnectorRemotes", "WooCommerceClient", "WooCommerceEmulator", "DynamicsEmulator", "DynamicsClient", "ConnectorSandbox",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        .executableTarget(name: "mlc", dependencies: [
            "ConnectorRuntime", "ConnectorFlows", "ConnectorConnections", "ConnectorStore", "ConnectorDemo", "ConnectorRemotes", "ConnectorCore",
            "ConnectorSandbox", "DynamicsEmulator", "WooCommerceEmulator", "ConnectorMapping", "DynamicsClient", "WooCommerceClient",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], linkerSettings: coldStartLinking("mlc")),
        function("webhook-receiver"),
        function("order-poster"),
        function("catalog-push"),
        function("backfill-poll"),
        // Real captures (WooCommerce 10.0.2 deliveries) shipped as resources: the demo replays
        // them, the tests check against them.
        .target(name: "ConnectorSamples", resources: [.copy("Captures")]),
        // WooCommerce 10.0.2 emulator built from the real captures (sandbox, demo and tests);
        // never imports the connector's WooCommerce client code.
        .target(name: "WooCommerceEmulator", dependencies: [
            "ConnectorCore",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // The WooCommerce REST v3 client: auth (Basic, query keys, OAuth 1.0a), typed models,
        // paging, errors classed permanent/transient. Never imports the emulator.
        .target(name: "WooCommerceClient", dependencies: [
            "ConnectorCore", "WooCommerceAPI",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Dynamics 365 F&O + Entra ID emulator built from fixtures/dynamics/entities.json (sandbox,
        // demo and tests); never imports the connector's Dynamics client code.
        .target(
            name: "DynamicsEmulator",
            dependencies: [
                "ConnectorCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            resources: [.copy("Resources/entities.json")]
        ),
        // Test doubles and helpers shared by the test targets.
        .target(
            name: "ConnectorTestSupport",
            dependencies: ["ConnectorCore", "ConnectorStore", "ConnectorStoreSQLite", "ConnectorStorePostgres", "ConnectorConnections", "ConnectorSamples"]
        ),
        .testTarget(name: "DynamicsClientTests", dependencies: [
            "DynamicsClient", "ConnectorCore", "ConnectorTestSupport",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        .testTarget(name: "OrderPostingTests", dependencies: [
            "ConnectorFlows", "ConnectorRemotes", "ConnectorSandbox", "ConnectorRuntime", "ConnectorMapping", "WooCommerceClient", "ConnectorStore", "ConnectorConnections", "ConnectorTestSupport",
            "ConnectorCore", "DynamicsClient", "DynamicsEmulator", "WooCommerceEmulator",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
        ]),
        // SPEC §12 end to end: the catalog push against both sandboxes over HTTP.
        .testTarget(name: "CatalogTests", dependencies: [
            "ConnectorFlows", "ConnectorRemotes", "ConnectorSandbox", "ConnectorMapping", "ConnectorStore", "ConnectorConnections", "ConnectorTestSupport",
            "ConnectorCore", "DynamicsClient", "DynamicsEmulator", "WooCommerceEmulator", "WooCommerceClient",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "CLITests", dependencies: ["ConnectorTestSupport", "ConnectorCore"]),
        .testTarget(name: "ConnectorMappingTests", dependencies: [
            "ConnectorMapping", "ConnectorConnections", "ConnectorSamples", "DynamicsClient", "WooCommerceClient",
        ]),
        .testTarget(name: "ConnectorStoreTests", dependencies: [
            "ConnectorStore", "ConnectorStoreSQLite", "ConnectorStorePostgres", "ConnectorTestSupport",
        ]),
        .testTarget(name: "ConnectorConnectionsTests", dependencies: [
            "ConnectorConnections", "ConnectorTestSupport", "ConnectorStore", "ConnectorStoreSQLite", "ConnectorStorePostgres",
            // The secret scan reads the store's raw tables.
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "ConnectorRuntimeTests", dependencies: [
            "ConnectorRuntime", "ConnectorTestSupport", "ConnectorStore", "ConnectorCore",
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            // The Lambda and Azure adapter tests: the real webhook-receiver over a memory store,
            // real captured deliveries, and a fake Runtime API server.
            "ConnectorFlows", "ConnectorConnections", "ConnectorStore", "ConnectorSamples",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "WebhookReceiverTests", dependencies: [
            "ConnectorFlows", "ConnectorRuntime", "WooCommerceAPI", "ConnectorTestSupport", "ConnectorSamples",
            "ConnectorConnections", "ConnectorStore",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        .testTarget(
            name: "WooCommerceEmulatorTests",
            dependencies: [
                "WooCommerceEmulator", "WooCommerceAPI", "ConnectorSamples", "ConnectorCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            resources: [.copy("Captures")]
        ),
        .testTarget(
            name: "WooCommerceClientTests",
            dependencies: [
                "WooCommerceClient", "WooCommerceEmulator", "ConnectorTestSupport", "ConnectorCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Captures")]
        ),
        .testTarget(name: "DynamicsEmulatorTests", dependencies: [
            "DynamicsEmulator", "ConnectorCore",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        // Fuzz targets over the parsers that read outsiders' bytes (docs/fuzzing.md); `mlc-fuzz`
        // replays corpora, or is libFuzzer's entry when built with -DFUZZING (scripts/fuzz).
        .target(name: "ConnectorFuzz", dependencies: ["ConnectorCore", "ConnectorConnections", "WooCommerceAPI", "DynamicsClient"]),
        .executableTarget(name: "mlc-fuzz", dependencies: ["ConnectorFuzz"], path: "fuzz/mlc-fuzz"),
        .testTarget(name: "ConnectorFuzzTests", dependencies: ["ConnectorFuzz", "ConnectorSamples", "ConnectorCore", "ConnectorConnections", "WooCommerceAPI", "DynamicsClient"]),
    ],
    swiftLanguageModes: [.v6]
)
