@testable import HealthImagingLocal
@testable import HealthImagingJSON

/// A JSON body without its `lastAccessedAt` members (anything else unchanged): for comparing states written at
/// different moments, since loads and reads record the time of access (storage tiers; ClockAndTierTests covers it).
func withoutAccessTimes(_ body: [UInt8]) -> [UInt8] {
    func strip(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let members): .object(members.filter { $0.key != "lastAccessedAt" }.map { ($0.key, strip($0.value)) })
        case .array(let items): .array(items.map(strip))
        default: value
        }
    }
    guard let parsed = try? JSONParser.parse(body) else { return body }
    return strip(parsed).serialized()
}
