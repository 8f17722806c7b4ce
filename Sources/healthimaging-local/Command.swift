import ArgumentParser
import Foundation
import HealthImagingLocal
import Logging
import HealthImagingDICOM
import HealthImagingHTTP

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

    @Option(help: "Persist state to this SQLite file (WAL mode), owned by this process alone (lock file <db>.lock). Default: in memory, gone at exit.")
    var db: String?

    @Option(name: .customLong("fixtures"), help: "A fixture file, or a directory of *.json fixtures (repeatable). Loaded atomically at startup; over an existing --db, datastores it already has (or had from an earlier startup) are left as they are.")
    var fixtures: [String] = []

    @Option(help: "A fault-rule file ({\"seed\": N, \"rules\": [...]}) active from startup.")
    var faults: String?

    @Flag(help: "Always run read operations, never answering from the cache of unchanged-store reads.")
    var noReadCache = false

    @Option(help: "The read cache's budget in bytes (keys and answers); 0 turns it off.")
    var readCacheBytes = 32 << 20

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

    @Option(help: "Serve the test-control plane under /_healthimaging/ (on) or answer it like any unknown path (off).")
    var controlPlane = "on"

    @Option(help: "Require Authorization: Bearer TOKEN on every control-plane call.")
    var controlToken: String?

    @Flag(help: "Check SigV4 signatures of API requests (header and presigned) against the --credentials key pairs.")
    var verifySignatures = false

    @Option(name: .customLong("credentials"), help: "ACCESS_KEY_ID:SECRET_ACCESS_KEY accepted by --verify-signatures (repeatable; default test:test).")
    var credentials: [String] = []

    @Option(help: "A file of key pairs for --verify-signatures: ACCESS:SECRET lines, or the AWS shared-credentials format.")
    var credentialsFile: String?

    @Option(name: .customLong("s3-dir"), help: "Import jobs read and write s3://bucket/key as the file DIR/bucket/key.")
    var s3Dir: String?

    @Option(name: .customLong("s3-endpoint"), help: "Import jobs read and write s3:// objects on this S3-compatible server (http://host:port, path-style, SigV4 with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, region --region).")
    var s3Endpoint: String?

    @Option(help: "The largest DICOM file an import job accepts; larger ones are per-file customer errors.")
    var maxImportFileBytes = ImportScanner.defaultMaxFileBytes

    @Option(help: "The largest STOW-RS request body (StoreDICOM, StoreDICOMStudy); larger ones get JSON 413.")
    var maxStoreBytes = StoreDICOM.defaultMaxBytes

    @Option(help: "What absolute URLs in answers (STOW RetrieveURL, BulkDataURI) start with, e.g. http://imaging.local:8080; default: the listening address.")
    var publicBaseURL: String?
    @Option(help: "Import worker processes (each file of an import is parsed, decoded and encoded in one, apart from the server); default: the core count. 0: one thread inside the server instead (no isolation).")
    var importWorkers = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Address-space limit of each import worker process, in MiB (0: none); a file that needs more fails alone, as a server error.")
    var importWorkerMemoryMb = 4096

    @Option(help: "How import workers share the CPU with the server: auto (the workers of all cores but one are SCHED_BATCH, the rest SCHED_IDLE, giving their file to the others when the machine is too busy to run them), batch (all SCHED_BATCH: the most import speed on a busy machine, slower API answers during imports) or idle (all SCHED_IDLE: API latency first; imports stall on a busy machine).")
    var importWorkerScheduling = ImportPool.Scheduling.auto.rawValue

    @Option(help: "Seconds one file may take in an import worker; a worker over it is killed and the file fails as a server error.")
    var importFileSeconds = 300.0

    @Option(help: "The most files one import job may list; a job over it ends FAILED before importing anything.")
    var maxImportJobFiles = ImportCoordinator.defaultMaxJobFiles

    @Option(help: "Seconds an import job may run; a job still importing then ends FAILED, importing nothing.")
    var maxImportJobSeconds = ImportCoordinator.defaultMaxJobSeconds

    /// `healthimaging-local import-worker …` (hidden): the import worker process the server starts itself
    /// (docs/hardening.md, "Import worker pool"); anything else is the server.
    static func main() {
        let arguments = CommandLine.arguments
        if arguments.count > 1, arguments[1] == ImportWorkerProcess.subcommand {
            Foundation.exit(ImportWorkerProcess.serve(arguments: Array(arguments.dropFirst(2))))
        }
        main(nil)
    }

    @Option(help: "How many EventBridge events each namespace keeps for GET /_healthimaging/events.")
    var eventRingSize = 1000

    @Option(name: .customLong("eventbridge-endpoint"), help: "Send every event as PutEvents to this EventBridge-compatible server (http://host:port; moto, LocalStack), SigV4-signed with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, on the default bus.")
    var eventBridgeEndpoint: String?

    @Flag(help: "Image-set events also carry the devguide's spelling imagesetId besides imageSetId.")
    var eventDevguideKeys = false

    @Option(help: "The largest decoded frame (rows × columns × samples × bytes per sample) a DICOM file may hold; larger is a per-file customer error (docs/hardening.md).")
    var maxFrameBytes = DICOMLimits.standard.maxFrameBytes

    @Option(help: "The largest decoded size of all frames of one DICOM file; larger is a per-file customer error (docs/hardening.md).")
    var maxDecodedFileBytes = DICOMLimits.standard.maxDecodedFileBytes

    func validate() throws {
        guard importWorkers >= 0, importWorkers <= 256 else { throw ValidationError("--import-workers must be between 0 and 256") }
        guard ImportPool.Scheduling(rawValue: importWorkerScheduling) != nil else {
            throw ValidationError("--import-worker-scheduling must be auto, batch or idle")
        }
        guard importWorkerMemoryMb >= 0 else { throw ValidationError("--import-worker-memory-mb must be 0 or more") }
        guard importFileSeconds > 0, importFileSeconds <= 86400 else { throw ValidationError("--import-file-seconds must be between 0 and 86400") }
        guard maxImportJobFiles > 0 else { throw ValidationError("--max-import-job-files must be positive") }
        guard maxImportJobSeconds > 0, maxImportJobSeconds <= 7 * 86400 else { throw ValidationError("--max-import-job-seconds must be between 0 and 604800") }
        guard headerTimeout > 0, headerTimeout <= 86400 else { throw ValidationError("--header-timeout must be between 0 and 86400 seconds") }
        guard bodyTimeout > 0, bodyTimeout <= 86400 else { throw ValidationError("--body-timeout must be between 0 and 86400 seconds") }
        if s3Dir != nil, s3Endpoint != nil { throw ValidationError("give --s3-dir or --s3-endpoint, not both") }
        if let s3Endpoint, S3Client(endpoint: s3Endpoint, region: region, credentials: nil) == nil {
            throw ValidationError("--s3-endpoint must be http://host[:port] (TLS is not spoken)")
        }
        guard maxImportFileBytes > 0 else { throw ValidationError("--max-import-file-bytes must be positive") }
        guard maxFrameBytes > 0 else { throw ValidationError("--max-frame-bytes must be positive") }
        guard maxDecodedFileBytes > 0 else { throw ValidationError("--max-decoded-file-bytes must be positive") }
        guard maxStoreBytes > 0 else { throw ValidationError("--max-store-bytes must be positive") }
        if let publicBaseURL, !(publicBaseURL.hasPrefix("http://") || publicBaseURL.hasPrefix("https://")) {
            throw ValidationError("--public-base-url must start with http:// or https://")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard readCacheBytes >= 0 else { throw ValidationError("--read-cache-bytes must be 0 or more") }
        guard journalSize >= 0 else { throw ValidationError("--journal-size must be 0 or more") }
        guard eventRingSize >= 0 else { throw ValidationError("--event-ring-size must be 0 or more") }
        if let eventBridgeEndpoint, S3Client(endpoint: eventBridgeEndpoint, region: region, credentials: nil) == nil {
            throw ValidationError("--eventbridge-endpoint must be http://host[:port] (TLS is not spoken)")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard accountId.count == 12, accountId.allSatisfy(\.isASCII), accountId.allSatisfy(\.isNumber) else {
            throw ValidationError("--account-id must be 12 digits")
        }
        guard !region.isEmpty, region.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) else {
            throw ValidationError("--region must look like us-east-1")
        }
        guard TransitionMode(transitions) != nil else {
            throw ValidationError("--transitions must be immediate, manual, manual:N or timed:MS")
        }
        guard ["on", "off"].contains(controlPlane) else { throw ValidationError("--control-plane must be on or off") }
        if let controlToken, controlToken.isEmpty || controlToken.contains(where: { $0.isWhitespace || !$0.isASCII }) {
            throw ValidationError("--control-token must be non-empty printable ASCII without spaces")
        }
        for pair in credentials where SignatureVerifier.credential(pair) == nil {
            throw ValidationError("--credentials must be ACCESS_KEY_ID:SECRET_ACCESS_KEY, got \"\(pair)\"")
        }
        if (!credentials.isEmpty || credentialsFile != nil) && !verifySignatures {
            throw ValidationError("--credentials and --credentials-file only matter with --verify-signatures")
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
        configuration.readCache = !noReadCache && readCacheBytes > 0
        configuration.readCacheBytes = readCacheBytes
        configuration.fixtureFiles = fixtures
        configuration.transitions = TransitionMode(transitions) ?? .immediate
        configuration.controlPlane = controlPlane == "on"
        configuration.controlToken = controlToken
        configuration.maxImportFileBytes = maxImportFileBytes
        configuration.maxStoreBytes = maxStoreBytes
        configuration.publicBaseURL = publicBaseURL
        // The binary re-executes itself as the import worker: /proc/self/exe is this very file, even if the path
        // that started it has since changed.
        configuration.importPool = ImportPool.Configuration(
            workers: max(1, importWorkers), executable: importWorkers > 0 ? ImportWorkerProcess.ownExecutable() : nil,
            memoryMiB: importWorkerMemoryMb, fileSeconds: importFileSeconds,
            scheduling: ImportPool.Scheduling(rawValue: importWorkerScheduling) ?? .auto)
        configuration.maxImportJobFiles = maxImportJobFiles
        configuration.maxImportJobSeconds = maxImportJobSeconds
        configuration.eventRingSize = eventRingSize
        configuration.eventBridgeEndpoint = eventBridgeEndpoint
        configuration.eventDevguideKeys = eventDevguideKeys
        configuration.dicomLimits.maxFrameBytes = maxFrameBytes
        configuration.dicomLimits.maxDecodedFileBytes = maxDecodedFileBytes
        if let s3Dir {
            configuration.objectStore = FolderObjectStore(root: s3Dir)
        } else if let s3Endpoint {
            configuration.objectStore = S3Client(endpoint: s3Endpoint, region: region, credentials: .fromEnvironment())
        }
        let emulator: Emulator
        // The files a new --db makes (removed again if startup fails, so that a bad fixture leaves nothing behind).
        let created = db.map { path in
            [path, path + "-wal", path + "-shm", path + ".lock"].filter { !FileManager.default.fileExists(atPath: $0) }
        } ?? []
        let existingDatabase = db.map { !created.contains($0) } ?? false
        do {
            // A bad file loads nothing: the load is one transaction. Over an existing --db the files are also
            // validated before the store is opened (one pass more), so that a bad file leaves the database as it
            // was, untouched even by the opening; a store that starts empty (in memory, or a --db this start
            // creates) is validated as it is loaded, in one pass, and dropped (its files removed) on an error.
            if existingDatabase { try FixtureLoader.validate(paths: fixtures) }
            if let faults {
                guard let data = FileManager.default.contents(atPath: faults) else {
                    throw FixtureError(source: faults, issues: [FixtureIssue(path: "$", reason: "cannot read the file")])
                }
                configuration.faults = try FaultDocument.decode(Array(data), source: faults)
            }
            if verifySignatures {
                var pairs = credentials.compactMap(SignatureVerifier.credential)
                if let credentialsFile {
                    guard let data = FileManager.default.contents(atPath: credentialsFile) else {
                        throw FixtureError(source: credentialsFile, issues: [FixtureIssue(path: "$", reason: "cannot read the file")])
                    }
                    pairs += try SignatureVerifier.credentials(file: String(decoding: data, as: UTF8.self), source: credentialsFile)
                }
                if pairs.isEmpty { pairs = [("test", "test")] }
                configuration.signatures = SignatureVerifier(secrets: Dictionary(pairs.map { ($0.accessKeyId, $0.secret) }, uniquingKeysWith: { _, last in last }))
            }
            emulator = try Emulator(configuration: configuration, logger: logger)
            let counts = try emulator.loadStartupFixtures()
            if counts.skipped > 0 {
                logger.info("fixtures: loaded \(counts.loaded) datastores, left \(counts.skipped) already in \(db ?? "the database") as they are")
            }
        } catch {
            FileHandle.standardError.write(Data("healthimaging-local: \(error)\n".utf8))
            for path in created { unlink(path) }
            throw ExitCode(2)
        }
        // The parsed documents are gone once loaded; give their memory back (the store holds the state).
        Emulator.releaseFreedMemory()
        let server: HTTPServer
        do {
            var limits = RequestHead.Limits()
            limits.maxURILength = configuration.maxURILength
            limits.maxHeaderBytes = configuration.maxHeaderBytes
            limits.maxBodyBytes = configuration.maxBodyBytes
            limits.headerTimeoutSeconds = headerTimeout
            limits.bodyTimeoutSeconds = bodyTimeout
            server = try HTTPServer(serving: emulator, host: host, port: port, limits: limits, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("healthimaging-local: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let url = ListenAddress.clientURL(host: host, port: server.port)
        emulator.attach(to: server, url: url)
        if let warning = ListenAddress.exposureWarning(host: host, port: server.port, configuration: configuration) {
            FileHandle.standardError.write(Data((warning + "\n").utf8))
        }
        print(url)
        fflush(nil)
        logger.info("listening on \(url) (account \(accountId), region \(region), db \(db ?? "in memory"))")
        server.run()
        do {
            try emulator.shutdown()
        } catch {
            FileHandle.standardError.write(Data("healthimaging-local: closing the database: \(error)\n".utf8))
            throw ExitCode(1)
        }
        logger.info("stopped")
    }
}
