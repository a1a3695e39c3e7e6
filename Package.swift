// swift-tools-version:6.0
import PackageDescription

// Arrows point one way: executable → front ends (StateBrowser, Terminal) → StateStore
// → (Postgres, StateJSON, StateConfig) → CLibPQ. Only Postgres imports libpq and only
// Terminal imports ncurses. Children (the editor; tests' helpers) are started only
// through ChildProcess (posix_spawn), never Foundation's Process: see ChildProcess.swift.
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
        .target(name: "StateBrowser", dependencies: ["StateStore", "StateConfig"]),
        .target(name: "Terminal", dependencies: ["CNCurses", "StateBrowser", "ChildProcess"]),
        .executableTarget(name: "meltano-state", dependencies: [
            "StateStore", "StateBrowser", "Terminal", "ChildProcess",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .target(name: "TestSupport", dependencies: ["Postgres", "ChildProcess"]),
        .testTarget(name: "ChildProcessTests", dependencies: ["ChildProcess", "TestSupport"]),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TestSupport"]),
        .testTarget(name: "StateJSONTests", dependencies: ["StateJSON", "TestSupport"]),
        .testTarget(name: "StateConfigTests", dependencies: ["StateConfig", "TestSupport"]),
        .testTarget(name: "StateStoreTests", dependencies: ["StateStore", "TestSupport", "ChildProcess"]),
        .testTarget(name: "StateBrowserTests", dependencies: ["StateBrowser", "TestSupport"], exclude: ["Snapshots"]),
        .testTarget(name: "CLITests", dependencies: ["StateStore", "TestSupport", "ChildProcess"]),
    ]
)
