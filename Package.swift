// swift-tools-version:6.0
import PackageDescription

// Arrows point one way: executable → Terminal → StateBrowser → StateStore →
// (StateJSON, StateConfig → Postgres → CLibPQ); executable → Monitoring → StateStore. Nothing re-exports: each target lists
// what it imports. Front ends use StateJSON's values, StateConfig's settings and, of
// Postgres, only PostgresError; SQL is sent only by StateStore and Postgres. Only
// Postgres imports libpq and only Terminal imports ncurses. Children (the editor;
// tests' helpers) are started only through ChildProcess (posix_spawn), never
// Foundation's Process: see ChildProcess.swift.
let package = Package(
    name: "meltano-state",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "meltano-state", targets: ["meltano-state"]),
        .library(name: "StateStore", targets: ["StateStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        .target(name: "CNCurses", linkerSettings: [.linkedLibrary("ncursesw")]),
        .target(name: "Postgres", dependencies: ["CLibPQ"]),
        .target(name: "CSpawn"),
        .target(name: "ChildProcess", dependencies: ["CSpawn"]),
        .target(name: "StateJSON"),
        .target(name: "StateConfig", dependencies: ["Postgres", .product(name: "Yams", package: "Yams")]),
        .target(name: "StateStore", dependencies: ["Postgres", "StateJSON", "StateConfig"]),
        .target(name: "Monitoring", dependencies: ["StateStore"]),
        .target(name: "StateBrowser", dependencies: ["StateStore", "StateJSON", "StateConfig", "Postgres"]),
        .target(name: "Terminal", dependencies: ["CNCurses", "StateBrowser", "StateStore", "StateConfig", "ChildProcess"]),
        .executableTarget(name: "meltano-state", dependencies: [
            "StateStore", "StateJSON", "StateConfig", "Postgres", "StateBrowser", "Terminal", "ChildProcess", "Monitoring",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .target(name: "TestSupport", dependencies: ["Postgres", "ChildProcess"]),
        .testTarget(name: "ChildProcessTests", dependencies: ["ChildProcess", "TestSupport"]),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TestSupport"]),
        .testTarget(name: "StateJSONTests", dependencies: ["StateJSON", "TestSupport"]),
        .testTarget(name: "StateConfigTests", dependencies: ["StateConfig", "TestSupport"]),
        .testTarget(name: "StateStoreTests", dependencies: ["StateStore", "StateJSON", "StateConfig", "Postgres", "TestSupport", "ChildProcess"]),
        .testTarget(name: "StateBrowserTests", dependencies: ["StateBrowser", "StateStore", "StateJSON", "StateConfig", "Postgres", "TestSupport"], exclude: ["Snapshots"]),
        .testTarget(name: "MonitoringTests", dependencies: ["Monitoring", "StateStore"]),
        .testTarget(name: "CLITests", dependencies: ["StateStore", "StateJSON", "Postgres", "TestSupport", "ChildProcess"]),
    ]
)
