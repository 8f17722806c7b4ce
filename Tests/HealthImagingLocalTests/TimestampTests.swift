import Testing
@testable import HealthImagingLocal

@Suite struct TimestampTests {
    @Test func formatsEpochSecondsWithMillis() {
        #expect(Timestamp.format(millis: 1_680_029_436_304) == "1680029436.304")
        #expect(Timestamp.format(millis: 1_680_029_436_430) == "1680029436.43")
        #expect(Timestamp.format(millis: 1_680_029_436_000) == "1680029436.0")
        #expect(Timestamp.format(millis: 1_680_029_436_005) == "1680029436.005")
    }

    @Test func parsesISO8601AsTheCLIPrintsIt() {
        #expect(Timestamp.millis(fromISO8601: "2023-03-28T18:10:36.304000+00:00") == 1_680_027_036_304)
        #expect(Timestamp.millis(fromISO8601: "2023-03-28T18:10:36Z") == 1_680_027_036_000)
        #expect(Timestamp.millis(fromISO8601: "yesterday") == nil)
    }
}
