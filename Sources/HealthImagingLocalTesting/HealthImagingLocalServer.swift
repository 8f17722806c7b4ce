import CLibevent
import Foundation
import HealthImagingLocal
import Logging
#if canImport(Glibc)
import Glibc
#endif
import HealthImagingHTTP

public struct HealthImagingLocalServerError: Error, CustomStringConvertible {
    public let description: String
}

/// The emulator running in this process, on a free port of 127.0.0.1, on a thread of its own:
///
///     let server = try HealthImagingLocalServer.start(fixtures: ["fixtures/seed.json"])
///     defer { server.stop() }
///     // point an HTTP client or an AWS SDK at server.url
///
/// The control helpers (`load`, `addFault`, `journal`, …) talk to it over HTTP like any other client, so they
/// are safe from any thread. The emulator itself lives on the server thread only.
public final class HealthImagingLocalServer: @unchecked Sendable {
    /// `http://127.0.0.1:PORT`.
    public let url: String
    public let port: Int
    /// The namespace the control helpers act on (`?account=&region=`).
    public let account: String
    public let region: String
    private let thread: Thread
    private let stopPipe: (read: Int32, write: Int32)
    private let startup: Startup
    private let lock = NSLock()
    private var stopped = false

    private init(url: String, port: Int, account: String, region: String, thread: Thread, stopPipe: (Int32, Int32),
                 startup: Startup) {
        self.startup = startup
        self.url = url
        self.port = port
        self.account = account
        self.region = region
        self.thread = thread
        self.stopPipe = stopPipe
    }

    /// Starts the emulator with fixture files (paths, as `--fixtures`) and fixture documents (JSON text), both
    /// loaded into the default namespace. Throws when a fixture is invalid or the port cannot be bound.
    public static func start(fixtures: [String] = [], documents: [String] = [], account: String = "123456789012",
                             region: String = "us-east-1", transitions: TransitionMode = .immediate,
                             logLevel: Logger.Level = .warning) throws -> HealthImagingLocalServer {
        var configuration = Emulator.Configuration(account: account, region: region)
        configuration.transitions = transitions
        configuration.fixtures = try FixtureLoader.read(paths: fixtures)
        for (index, document) in documents.enumerated() {
            configuration.fixtures.append(try Fixture.decode(Array(document.utf8), source: "documents[\(index)]"))
        }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw HealthImagingLocalServerError(description: "pipe() failed: errno \(errno)") }
        let startup = Startup()
        let frozen = configuration
        let stopFd = fds[0]
        let thread = Thread {
            Self.serve(frozen, logLevel: logLevel, stopFd: stopFd, startup: startup)
        }
        thread.name = "healthimaging-local"
        thread.stackSize = 8 << 20
        thread.start()
        startup.ready.wait()
        switch startup.result {
        case .success(let port)?:
            return HealthImagingLocalServer(url: "http://127.0.0.1:\(port)", port: port, account: account, region: region,
                                            thread: thread, stopPipe: (fds[0], fds[1]), startup: startup)
        case .failure(let error)?:
            close(fds[0])
            close(fds[1])
            throw error
        case nil:
            throw HealthImagingLocalServerError(description: "the server thread ended without starting")
        }
    }

    /// Stops the loop (from any thread) and waits for the server thread to finish. Idempotent.
    public func stop() {
        lock.lock()
        let first = !stopped
        stopped = true
        lock.unlock()
        guard first else { return }
        var byte: UInt8 = 1
        _ = write(stopPipe.write, &byte, 1)
        startup.done.wait()
        close(stopPipe.read)
        close(stopPipe.write)
    }

    deinit { stop() }

    private final class Startup: @unchecked Sendable {
        let ready = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        var result: Result<Int, Error>?
    }

    /// The server thread: emulator, HTTP server, a read event on the stop pipe, then the loop.
    private static func serve(_ configuration: Emulator.Configuration, logLevel: Logger.Level, stopFd: Int32,
                              startup: Startup) {
        defer { startup.done.signal() }
        var logger = Logger(label: "healthimaging-local.testing")
        logger.logLevel = logLevel
        let server: HTTPServer
        let emulator: Emulator
        do {
            emulator = try Emulator(configuration: configuration, logger: logger)
            try emulator.loadStartupFixtures()
            server = try HTTPServer(serving: emulator, host: "127.0.0.1", port: 0, handleSignals: false)
            emulator.attach(to: server, url: server.url)
        } catch {
            startup.result = .failure(error)
            startup.ready.signal()
            return
        }
        let base = server.eventBase
        let stopEvent = event_new(base, stopFd, Int16(EV_READ), { _, _, context in
            guard let context else { return }
            event_base_loopexit(OpaquePointer(context), nil)
        }, UnsafeMutableRawPointer(base))
        if let stopEvent { event_add(stopEvent, nil) }
        startup.result = .success(server.port)
        startup.ready.signal()
        server.run()
        // The pool's threads end with the server (they would otherwise wait for work for ever).
        emulator.imports.pool.shutdown()
        if let stopEvent { event_free(stopEvent) }
        _ = server  // the HTTPServer (its listener and connections) is freed here, on its own thread
    }
}
