import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif
import HealthImagingJSON

/// `--eventbridge-endpoint URL`: sends every published event to an EventBridge-compatible server (moto, LocalStack)
/// as `AWSEvents.PutEvents` (JSON 1.1), SigV4-signed for the service `events` in the event's region with the
/// emulator's environment credentials (`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`), one
/// entry per call, on the `default` bus.
///
/// One thread, off the event loop: the loop only appends to a queue. Events of one namespace go out in
/// publication order: a failed call is retried (`maxAttempts`, back-off doubling from `firstBackoffMillis`)
/// before any later event of that namespace; other namespaces are not held up by it. An event whose attempts
/// all fail is marked failed and the next goes on. Nothing here ever answers an API call, so a slow or dead
/// endpoint cannot fail or slow one. What is still queued at exit is lost (delivery is best effort, as AWS says).
///
/// Fault effects (FaultRule.swift `EventFault`): `duplicate` sends the entry twice; `delay` takes the event out of
/// its namespace's order and sends it `delayMillis` later; `reorder` holds it until an event published after it
/// has been sent (or `reorderHoldMillis` passed); `drop` never reaches here.
///
/// `@unchecked Sendable`: every mutable field lives in `Shared`, touched only with its `condition` held.
public final class EventDelivery: @unchecked Sendable {
    public static let maxAttempts = 5
    public static let firstBackoffMillis: Int64 = 200
    public static let reorderHoldMillis: Int64 = 2000
    public static let timeoutSeconds: Int32 = 5

    struct Item {
        var sequence: Int
        var namespace: Namespace
        var body: [UInt8]
        /// Copies still to send (2 for a duplicated event until the first is accepted).
        var copies: Int
        var failures = 0
        /// Monotonic milliseconds before which it is not sent.
        var notBefore: Int64 = 0
    }

    private final class Shared: @unchecked Sendable {
        let condition = NSCondition()
        /// In-order queues per namespace, and the order namespaces are served in.
        var queues: [Namespace: [Item]] = [:]
        var order: [Namespace] = []
        var turn = 0
        /// Delayed events, each sent when due, outside any order.
        var delayed: [Item] = []
        /// Reordered events, released once a later event of their namespace was sent (or at `notBefore`).
        var held: [Item] = []
        /// The highest sequence sent per namespace.
        var sentThrough: [Namespace: Int] = [:]
        var stopping = false
    }

    public let endpoint: String
    let target: S3Client
    let ledger: DeliveryLedger
    let logger: Logger
    private let shared = Shared()

    /// Nil unless `endpoint` is `http://host[:port][/path]` (parsed as `--s3-endpoint` is).
    public init?(endpoint: String, credentials: S3Client.Credentials?, ledger: DeliveryLedger, logger: Logger) {
        guard let target = S3Client(endpoint: endpoint, region: "", credentials: credentials) else { return nil }
        self.endpoint = endpoint
        self.target = target
        self.ledger = ledger
        self.logger = logger
        let shared = self.shared
        let thread = Thread { [target, ledger, logger] in
            Self.run(shared, target: target, ledger: ledger, logger: logger)
        }
        thread.name = "event-delivery"
        thread.start()
    }

    deinit {
        shared.condition.lock()
        shared.stopping = true
        shared.condition.broadcast()
        shared.condition.unlock()
    }

    /// Queues an event (on the loop): O(1), never blocks on the network.
    func enqueue(_ event: ServiceEvent, effect: EventFault?) {
        var body = JSONWriter(capacity: 1024)
        body.object { $0.field("Entries", array: { list in event.writePutEventsEntry(to: &list) }) }
        var item = Item(sequence: event.sequence, namespace: event.namespace, body: body.bytes,
                        copies: effect?.effect == .duplicate ? 2 : 1)
        let now = Self.monotonicMillis()
        shared.condition.lock()
        switch effect?.effect {
        case .delay?:
            item.notBefore = now + Int64(effect?.delayMillis ?? 0)
            shared.delayed.append(item)
        case .reorder?:
            item.notBefore = now + Self.reorderHoldMillis
            shared.held.append(item)
        default:
            if shared.queues[item.namespace] == nil { shared.order.append(item.namespace) }
            shared.queues[item.namespace, default: []].append(item)
        }
        shared.condition.signal()
        shared.condition.unlock()
    }

    static func monotonicMillis() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    // MARK: the thread

    /// Where the item to send came from: a namespace queue (kept in order on retry) or the delayed list.
    private enum Origin { case queue, delayed }

    private static func run(_ shared: Shared, target: S3Client, ledger: DeliveryLedger, logger: Logger) {
        while true {
            shared.condition.lock()
            var picked: (Item, Origin)?
            while picked == nil {
                if shared.stopping {
                    shared.condition.unlock()
                    return
                }
                let now = monotonicMillis()
                picked = next(shared, now: now)
                if picked == nil {
                    let wake = ([shared.delayed.map(\.notBefore), shared.held.map(\.notBefore),
                                 shared.queues.values.compactMap { $0.first?.notBefore }].joined()).min()
                    if let wake {
                        _ = shared.condition.wait(until: Date(timeIntervalSinceNow: Double(max(wake - now, 1)) / 1000))
                    } else {
                        shared.condition.wait()
                    }
                }
            }
            shared.condition.unlock()
            guard let picked else { continue }
            var item = picked.0
            let origin = picked.1

            var failure: String?
            var accepted = 0
            for _ in 0..<item.copies {
                ledger.update(item.sequence) { $0.attempts += 1 }
                if let problem = send(item, target: target) {
                    failure = problem
                    break
                }
                accepted += 1
            }
            ledger.update(item.sequence) { $0.copies += accepted }

            shared.condition.lock()
            item.copies -= accepted
            if failure != nil { item.failures += 1 }
            if let failure, item.failures < maxAttempts {
                ledger.update(item.sequence) { $0.error = failure }
                item.notBefore = monotonicMillis() + firstBackoffMillis << Int64(min(item.failures - 1, 5))
                switch origin {
                case .queue: shared.queues[item.namespace, default: []].insert(item, at: 0)
                case .delayed: shared.delayed.append(item)
                }
            } else {
                ledger.update(item.sequence) {
                    $0.state = failure == nil ? .delivered : .failed
                    $0.error = failure
                }
                if let failure { logger.warning("event \(item.sequence) not delivered to --eventbridge-endpoint: \(failure)") }
                shared.sentThrough[item.namespace] = max(shared.sentThrough[item.namespace] ?? 0, item.sequence)
                release(shared, item.namespace)
            }
            shared.condition.unlock()
        }
    }

    /// The next item due (condition held): a due delayed one first, then namespace queues in turn.
    private static func next(_ shared: Shared, now: Int64) -> (Item, Origin)? {
        // Reordered events whose hold ran out go to the front of their queue.
        if shared.held.contains(where: { $0.notBefore <= now }) {
            for item in shared.held where item.notBefore <= now {
                var ready = item
                ready.notBefore = 0
                if shared.queues[item.namespace] == nil { shared.order.append(item.namespace) }
                shared.queues[item.namespace, default: []].insert(ready, at: 0)
            }
            shared.held.removeAll { $0.notBefore <= now }
        }
        if let index = shared.delayed.firstIndex(where: { $0.notBefore <= now }) {
            return (shared.delayed.remove(at: index), .delayed)
        }
        let count = shared.order.count
        for step in 0..<count {
            let namespace = shared.order[(shared.turn + step) % count]
            guard let head = shared.queues[namespace]?.first, head.notBefore <= now else { continue }
            shared.queues[namespace]?.removeFirst()
            shared.turn = (shared.turn + step + 1) % max(count, 1)
            return (head, .queue)
        }
        return nil
    }

    /// Once an event of `namespace` was sent, the reordered events published before it follow at once.
    private static func release(_ shared: Shared, _ namespace: Namespace) {
        let through = shared.sentThrough[namespace] ?? 0
        let ready = shared.held.filter { $0.namespace == namespace && $0.sequence < through }
        guard !ready.isEmpty else { return }
        shared.held.removeAll { $0.namespace == namespace && $0.sequence < through }
        if shared.queues[namespace] == nil { shared.order.append(namespace) }
        for var item in ready.reversed() {
            item.notBefore = 0
            shared.queues[namespace, default: []].insert(item, at: 0)
        }
    }

    /// One PutEvents call; nil when the entry was accepted, else why not.
    private static func send(_ item: Item, target: S3Client) -> String? {
        let answer: (status: Int, body: [UInt8])
        do {
            answer = try target.signedExchange(
                "POST", path: target.basePath.isEmpty ? "/" : target.basePath,
                signed: [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "AWSEvents.PutEvents")],
                body: item.body, region: item.namespace.region, service: "events", timeoutSeconds: timeoutSeconds)
        } catch {
            return "no answer from \(target.host):\(target.port) (refused, closed or timed out after \(timeoutSeconds) s)"
        }
        let reply = try? JSONParser.parse(answer.body)
        guard (200..<300).contains(answer.status) else {
            let code = reply?["__type"]?.stringValue ?? reply?["code"]?.stringValue ?? "HTTP \(answer.status)"
            let message = reply?["message"]?.stringValue ?? reply?["Message"]?.stringValue ?? ""
            return "PutEvents answered \(answer.status) \(code)\(message.isEmpty ? "" : ": " + message)"
        }
        if case .number(let failed)? = reply?["FailedEntryCount"], failed != "0" {
            let entry = reply?["Entries"].flatMap { if case .array(let items) = $0 { items.first } else { nil } }
            return "PutEvents refused the entry: \(entry?["ErrorCode"]?.stringValue ?? "?") \(entry?["ErrorMessage"]?.stringValue ?? "")"
        }
        return nil
    }
}
