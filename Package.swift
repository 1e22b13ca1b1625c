// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "expserver",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "expserverd", targets: ["expserverd"]),
        .executable(name: "expctl", targets: ["expctl"]),
        .library(name: "ServerCore", targets: ["ServerCore"]),
        .library(name: "ControlProtocol", targets: ["ControlProtocol"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "ControlProtocol",
            dependencies: []
        ),
        .target(
            name: "ServerCore",
            dependencies: [
                "ControlProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            swiftSettings: [
                // The request path is hot; exclusivity is checked statically in debug builds and tests.
                .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
            ]
        ),
        .executableTarget(
            name: "expserverd",
            dependencies: [
                "ServerCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "expbench",
            dependencies: [
                "ServerCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "expctl",
            dependencies: [
                "ControlProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "ServerCoreTests",
            dependencies: [
                "ServerCore",
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Helpers shared by the integration and end-to-end tests (the fake upstream).
        .target(
            name: "TestSupport",
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "ServerCore",
                "TestSupport",
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "ControlProtocolTests",
            dependencies: ["ControlProtocol"]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["expserverd", "expctl", "ControlProtocol", "TestSupport"]
        ),
    ]
)
