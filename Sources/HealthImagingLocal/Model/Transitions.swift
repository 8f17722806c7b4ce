/// How an asynchronous state change (LOCKED → ACTIVE, CREATING → ACTIVE, COPYING → COPIED, …) completes.
/// - `immediate`: the operation answers with the in-flight state; every later request sees the settled one.
/// - `manual`: the in-flight state stays until `POST /_healthimaging/transitions/advance`, or, with a read
///   count N (`manual:N`), until N reads of the resource have seen it.
/// - `timed`: the in-flight state stays for a number of milliseconds (`timed:MS`).
/// Pending transitions live in the store and are applied when a request touches the resource; besides, a loop
/// timer applies due `timed:` ones every 100 ms (`Emulator.settleDueTransitions`), so their events go out on time.
public enum TransitionMode: Equatable, Sendable, CustomStringConvertible {
    case immediate
    case manual(reads: Int?)
    case timed(millis: Int)

    /// Parses `immediate`, `manual`, `manual:N`, `timed:MS`.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        switch (parts.first, parts.count) {
        case ("immediate", 1): self = .immediate
        case ("manual", 1): self = .manual(reads: nil)
        case ("manual", 2):
            guard let reads = Int(parts[1]), reads >= 0, reads <= 1_000_000 else { return nil }
            self = .manual(reads: reads)
        case ("timed", 2):
            guard let millis = Int(parts[1]), millis >= 0, millis <= 86_400_000 else { return nil }
            self = .timed(millis: millis)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .immediate: "immediate"
        case .manual(nil): "manual"
        case .manual(let reads?): "manual:\(reads)"
        case .timed(let millis): "timed:\(millis)"
        }
    }
}

/// The kinds of resources whose transitions are configured apart.
public enum TransitionResource: String, CaseIterable, Sendable {
    case datastore
    case imageSet
    /// The end of a DICOM import job (IN_PROGRESS → COMPLETED | FAILED); see `ImportCoordinator`.
    case importJob
}
