import ArgumentParser
import Foundation
import HealthImagingLocal
import Logging

@main
struct HealthImagingLocalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "healthimaging-local",
        abstract: "A local emulator of AWS HealthImaging (the medical-imaging API).",
        discussion: """
            Once listening, prints the endpoint URL (http://HOST:PORT) on one line of standard output.
            Point clients at it with --endpoint-url and disable the runtime- host prefix
            (AWS_DISABLE_HOST_PREFIX_INJECTION=true).
            """)

    static let defaultPort = 7890

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on; 0 picks a free port.")
    var port = defaultPort

    @Option(help: "Persist state to this SQLite file (WAL mode). Default: in memory, gone at exit.")
    var db: String?

    @Option(name: .customLong("fixtures"), help: "A fixture file, or a directory of *.json fixtures (repeatable). Loaded atomically at startup.")
    var fixtures: [String] = []

    @Option(help: "A fault-rule file ({\"seed\": N, \"rules\": [...]}) active from startup.")
    var faults: String?

    @Flag(help: "Always run read operations, never answering from the cache of unchanged-store reads.")
    var noReadCache = false

    @Option(help: "How many API requests the journal keeps.")
    var journalSize = 1000

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(help: "Seconds a client may take to send a request head; also how long an idle connection stays open.")
    var headerTimeout = 30.0

    @Option(help: "Seconds a client may take to send a request body once its head is in.")
    var bodyTimeout = 60.0

    @Option(help: "The AWS region of the emulated resources.")
    var region = "us-east-1"

    @Option(help: "The 12-digit AWS account id of the emulated resources.")
    var accountId = "123456789012"

    @Option(help: "How asynchronous state changes complete: immediate, manual (control-plane advance), manual:N (after N reads), timed:MS.")
    var transitions = "immediate"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard journalSize >= 0 else { throw ValidationError("--journal-size must be 0 or more") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard accountId.count == 12, accountId.allSatisfy(\.isASCII), accountId.allSatisfy(\.isNumber) else {
            throw ValidationError("--account-id must be 12 digits")
        }
        guard headerTimeout > 0, headerTimeout <= 86400 else { throw ValidationError("--header-timeout must be between 0 and 86400 seconds") }
        guard bodyTimeout > 0, bodyTimeout <= 86400 else { throw ValidationError("--body-timeout must be between 0 and 86400 seconds") }
        guard !region.isEmpty, region.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) else {
            throw ValidationError("--region must look like us-east-1")
        }
        guard TransitionMode(transitions) != nil else {
            throw ValidationError("--transitions must be immediate, manual, manual:N or timed:MS")
        }
    }

    func run() throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "healthimaging-local")
        var configuration = Emulator.Configuration(databasePath: db, account: accountId, region: region)
        configuration.journalSize = journalSize
        configuration.readCache = !noReadCache
        configuration.transitions = TransitionMode(transitions) ?? .immediate
        let emulator: Emulator
        do {
            // Everything is read and validated before the store is touched: a bad file loads nothing.
            configuration.fixtures = try FixtureLoader.read(paths: fixtures)
            if let faults {
                guard let data = FileManager.default.contents(atPath: faults) else {
                    throw FixtureError(source: faults, issues: [FixtureIssue(path: "$", reason: "cannot read the file")])
                }
                configuration.faults = try FaultDocument.decode(Array(data), source: faults)
            }
            emulator = try Emulator(configuration: configuration, logger: logger)
            try emulator.loadStartupFixtures()
        } catch {
            FileHandle.standardError.write(Data("healthimaging-local: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let server: HTTPServer
        do {
            var limits = RequestHead.Limits()
            limits.maxURILength = configuration.maxURILength
            limits.maxHeaderBytes = configuration.maxHeaderBytes
            limits.maxBodyBytes = configuration.maxBodyBytes
            limits.headerTimeoutSeconds = headerTimeout
            limits.bodyTimeoutSeconds = bodyTimeout
            server = try HTTPServer(host: host, port: port, limits: limits, logger: logger) { emulator.handle($0) }
        } catch {
            FileHandle.standardError.write(Data("healthimaging-local: \(error)\n".utf8))
            throw ExitCode(1)
        }
        print(server.url)
        fflush(nil)
        logger.info("listening on \(server.url) (account \(accountId), region \(region), db \(db ?? "in memory"))")
        server.run()
        logger.info("stopped")
    }
}
