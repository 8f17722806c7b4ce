import Foundation

/// The events the emulator published, per namespace in a ring of `capacity` (`--event-ring-size`; the oldest
/// drop off), each with the fault rule that fired on it and its delivery status. State like the journal:
/// listed by `GET /_healthimaging/events`, cleared by `DELETE` and by a reset of its namespace. Loop thread only.
public final class EventLog {
    public struct Entry: Sendable {
        public var event: ServiceEvent
        /// The event fault rule that fired on it (FaultRule.swift), if any.
        public var fault: FaultRule?
    }

    private struct Ring {
        var entries: [Entry] = []
        var start = 0

        /// Appends; returns the entry that dropped off, if any.
        mutating func append(_ entry: Entry, capacity: Int) -> Entry? {
            if entries.count < capacity {
                entries.append(entry)
                return nil
            }
            let dropped = entries[start]
            entries[start] = entry
            start = (start + 1) % capacity
            return dropped
        }

        var ordered: ArraySlice<Entry> { entries[start...] + entries[..<start] }
    }

    public let capacity: Int
    private var rings: [Namespace: Ring] = [:]
    /// The sequence the last published event got (0: none yet), over every namespace.
    public private(set) var lastSequence = 0
    private var ids = RequestIdGenerator()
    /// Delivery statuses, shared with the delivery thread.
    public let ledger: DeliveryLedger
    /// `--eventbridge-endpoint`: where events are sent; nil: kept here only.
    public let delivery: EventDelivery?

    public init(capacity: Int, ledger: DeliveryLedger = DeliveryLedger(), delivery: EventDelivery?) {
        self.capacity = max(capacity, 0)
        self.ledger = ledger
        self.delivery = delivery
    }

    /// Records an event just committed: gives it its id and sequence, keeps it, and hands it to delivery as the
    /// fault rule says. Returns it as recorded.
    @discardableResult
    public func record(_ event: ServiceEvent, fault: FaultRule?) -> ServiceEvent {
        var event = event
        lastSequence += 1
        event.sequence = lastSequence
        event.id = ids.next()
        let effect = fault?.event
        if effect?.effect == .drop {
            ledger.set(event.sequence, DeliveryStatus(state: .dropped))
        } else if let delivery {
            ledger.set(event.sequence, DeliveryStatus(state: .pending))
            delivery.enqueue(event, effect: effect)
        } else {
            ledger.set(event.sequence, DeliveryStatus(state: .notConfigured))
        }
        if capacity > 0, let dropped = rings[event.namespace, default: Ring()].append(Entry(event: event, fault: fault), capacity: capacity) {
            ledger.forget([dropped.event.sequence])
        }
        if capacity == 0 { ledger.forget([event.sequence]) }
        return event
    }

    /// The entries of one namespace (nil: every namespace), in publication order.
    public func entries(_ namespace: Namespace?) -> [Entry] {
        if let namespace { return Array(rings[namespace]?.ordered ?? []) }
        return rings.values.flatMap(\.ordered).sorted { $0.event.sequence < $1.event.sequence }
    }

    /// Empties one namespace's ring (nil: every ring); returns how many entries it removed. Sequences keep
    /// counting up.
    @discardableResult
    public func clear(_ namespace: Namespace?) -> Int {
        let gone = entries(namespace).map(\.event.sequence)
        if let namespace { rings[namespace] = nil } else { rings = [:] }
        ledger.forget(gone)
        return gone.count
    }
}

@available(*, unavailable)
extension EventLog: Sendable {}

/// Where an event stands on its way to `--eventbridge-endpoint`.
public struct DeliveryStatus: Sendable {
    public enum State: String, Sendable {
        /// No `--eventbridge-endpoint`: the event is only kept in the ring.
        case notConfigured = "not-configured"
        /// Queued, being sent, or waiting for a retry.
        case pending
        /// PutEvents accepted it (every copy, for a duplicated one).
        case delivered
        /// Every attempt failed; `error` says the last reason.
        case failed
        /// A `drop` fault rule swallowed it.
        case dropped
    }

    public var state: State
    /// PutEvents calls made for it so far.
    public var attempts = 0
    /// How many times PutEvents accepted it (2 for a duplicated event).
    public var copies = 0
    public var error: String?
}

/// Delivery statuses by event sequence, written by the delivery thread and read by the control plane.
/// `@unchecked Sendable`: `statuses` is only touched with `lock` held.
public final class DeliveryLedger: @unchecked Sendable {
    private let lock = NSLock()
    private var statuses: [Int: DeliveryStatus] = [:]

    public init() {}

    public func status(_ sequence: Int) -> DeliveryStatus? {
        lock.lock()
        defer { lock.unlock() }
        return statuses[sequence]
    }

    func set(_ sequence: Int, _ status: DeliveryStatus) {
        lock.lock()
        statuses[sequence] = status
        lock.unlock()
    }

    /// Changes a status still known (an event cleared from the ring meanwhile is not brought back).
    func update(_ sequence: Int, _ change: (inout DeliveryStatus) -> Void) {
        lock.lock()
        if var status = statuses[sequence] {
            change(&status)
            statuses[sequence] = status
        }
        lock.unlock()
    }

    func forget(_ sequences: [Int]) {
        guard !sequences.isEmpty else { return }
        lock.lock()
        for sequence in sequences { statuses[sequence] = nil }
        lock.unlock()
    }
}
