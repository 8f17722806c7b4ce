// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "healthimaging-local",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "healthimaging-local", targets: ["healthimaging-local"]),
        .library(name: "HealthImagingLocal", targets: ["HealthImagingLocal"]),
        .library(name: "HealthImagingLocalTesting", targets: ["HealthImagingLocalTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibevent",
            pkgConfig: "libevent_core",
            providers: [.apt(["libevent-dev"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // DCMTK (Part 10, dictionary, RLE/JPEG/JPEG-LS) + OpenJPEG (JPEG 2000, HTJ2K) behind one C header.
        // Linked by name: Debian's dcmtk.pc requires sndfile, which is not installed, so pkg-config cannot be used.
        .target(
            name: "CDICOM",
            linkerSettings: [
                .linkedLibrary("dcmjpls"), .linkedLibrary("dcmtkcharls"), .linkedLibrary("dcmjpeg"),
                .linkedLibrary("ijg8"), .linkedLibrary("ijg12"), .linkedLibrary("ijg16"),
                .linkedLibrary("dcmimgle"), .linkedLibrary("dcmdata"), .linkedLibrary("oflog"),
                .linkedLibrary("ofstd"), .linkedLibrary("openjp2"), .linkedLibrary("z"), .linkedLibrary("stdc++"),
            ]
        ),
        // HTJ2K (OpenJPH) and JPEG 2000 (OpenJPEG) behind one C header; linked by name (openjph.pc is empty).
        .target(
            name: "CImaging",
            linkerSettings: [.linkedLibrary("openjph"), .linkedLibrary("openjp2"), .linkedLibrary("stdc++")]
        ),
        // JSON values, the parser and the writer every other target speaks.
        .target(name: "HealthImagingJSON"),
        // Reading DICOM Part 10 and coding frames (HTJ2K, JPEG 2000, PNG) over the C shims: knows nothing of HTTP
        // or the store.
        .target(
            name: "HealthImagingDICOM",
            dependencies: ["HealthImagingJSON", "CDICOM", "CImaging", "CZlib"]
        ),
        // An HTTP/1.1 server (and a small client) on libevent's evhttp: knows nothing of AWS.
        .target(
            name: "HealthImagingHTTP",
            dependencies: ["CLibevent", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "HealthImagingLocal",
            dependencies: [
                "HealthImagingHTTP",
                "HealthImagingJSON",
                "HealthImagingDICOM",
                "CLibevent",
                "CSQLite",
                "CZlib",
                "CDICOM",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "healthimaging-local",
            dependencies: [
                "HealthImagingLocal",
                "HealthImagingHTTP",
                "HealthImagingDICOM",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // bench/frames: the emulator's HTJ2K encode cost next to ojph_compress on the same raw frame.
        .executableTarget(
            name: "frames-bench",
            dependencies: ["HealthImagingLocal", "HealthImagingDICOM"],
            path: "bench/Sources/frames-bench"
        ),
        .testTarget(
            name: "HealthImagingHTTPTests",
            dependencies: ["HealthImagingHTTP"]
        ),
        .testTarget(
            name: "HealthImagingDICOMTests",
            dependencies: ["HealthImagingDICOM", "HealthImagingJSON"]
        ),
        .testTarget(
            name: "HealthImagingLocalTests",
            dependencies: ["HealthImagingLocal", "HealthImagingHTTP", "HealthImagingDICOM", "HealthImagingJSON"]
        ),
        // The in-process emulator for Swift test suites (`HealthImagingLocalServer.start(fixtures:)`).
        .target(
            name: "HealthImagingLocalTesting",
            dependencies: ["HealthImagingLocal", "HealthImagingHTTP", "CLibevent", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "HealthImagingLocalTestingTests",
            dependencies: ["HealthImagingLocalTesting"]
        ),
    ]
)
