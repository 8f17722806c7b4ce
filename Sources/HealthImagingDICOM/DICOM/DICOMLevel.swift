/// Which level of the metadata document a top-level attribute belongs to. The Patient, Study and Series lists follow
/// the developer guide's "Metadata normalization" page (its element lists by module: Patient, Issuer of Patient ID,
/// Patient Group, Clinical Trial Subject, De-identification at Patient level; General Study, Patient Study, Clinical
/// Trial Study at Study level; General Series, Clinical Trial Series, General Equipment, Frame of Reference at Series
/// level); every other attribute, private ones included, is an Instance attribute.
enum DICOMLevel {
    case patient, study, series, instance

    static func of(group: UInt16, element: UInt16) -> DICOMLevel {
        let tag = UInt32(group) << 16 | UInt32(element)
        if patientTags.contains(tag) { return .patient }
        if studyTags.contains(tag) { return .study }
        if seriesTags.contains(tag) { return .series }
        return .instance
    }

    static let patientTags: Set<UInt32> = [
        // Patient module
        0x0010_0010, 0x0010_0020, 0x0010_0021, 0x0010_0024, 0x0010_0022, 0x0010_0030, 0x0010_0033, 0x0010_0034,
        0x0010_0035, 0x0010_0040, 0x0010_1100, 0x0010_0200, 0x0008_1120, 0x0010_0032, 0x0010_1002, 0x0010_1001,
        0x0010_2160, 0x0010_4000, 0x0010_2201, 0x0010_2202, 0x0010_2292, 0x0010_2293, 0x0010_2294, 0x0010_0212,
        0x0010_0213, 0x0010_0214, 0x0010_0215, 0x0010_0216, 0x0010_0217, 0x0010_0218, 0x0010_0221, 0x0010_0222,
        0x0010_0223, 0x0010_0229, 0x0010_2297, 0x0010_2298, 0x0010_2299, 0x0010_0026, 0x0010_0027, 0x0010_0050,
        0x0010_0101, 0x0010_0102, 0x0010_1000,
        // Clinical Trial Subject module
        0x0012_0010, 0x0012_0020, 0x0012_0021, 0x0012_0030, 0x0012_0031, 0x0012_0040, 0x0012_0042, 0x0012_0081,
        0x0012_0082, 0x0012_0086, 0x0012_0087,
        // De-identification (Patient Identity Removed, method, method code sequence)
        0x0012_0062, 0x0012_0063, 0x0012_0064,
    ]

    static let studyTags: Set<UInt32> = [
        // General Study module
        0x0020_000D, 0x0008_0020, 0x0008_0030, 0x0008_0090, 0x0008_0096, 0x0008_009C, 0x0008_009D, 0x0020_0010,
        0x0008_0050, 0x0008_0051, 0x0008_1030, 0x0008_1048, 0x0008_1049, 0x0008_1060, 0x0008_1062, 0x0032_1033,
        0x0032_1034, 0x0008_1110, 0x0008_1032, 0x0040_1012, 0x0032_1066, 0x0032_1067, 0x0032_4000,
        // Patient Study module
        0x0008_1080, 0x0008_1084, 0x0010_1010, 0x0010_1020, 0x0010_1021, 0x0010_1022, 0x0010_1023, 0x0010_1024,
        0x0010_1030, 0x0010_2000, 0x0010_2110, 0x0010_21A0, 0x0010_21C0, 0x0010_21D0, 0x0038_0500, 0x0010_2180,
        0x0010_21B0, 0x0038_0010, 0x0038_0014, 0x0038_0060, 0x0038_0062, 0x0038_0064, 0x0010_2203, 0x0010_1005,
        // Clinical Trial Study module
        0x0012_0050, 0x0012_0051, 0x0012_0052, 0x0012_0053, 0x0012_0083,
    ]

    static let seriesTags: Set<UInt32> = [
        // General Series module
        0x0008_0060, 0x0020_000E, 0x0020_0011, 0x0020_0060, 0x0008_0021, 0x0008_0031, 0x0008_1050, 0x0008_1052,
        0x0018_1030, 0x0008_103E, 0x0008_103F, 0x0008_1070, 0x0008_1072, 0x0008_1111, 0x0008_1250, 0x0018_0015,
        0x0018_5100, 0x0028_0108, 0x0028_0109, 0x0040_0275, 0x0040_0253, 0x0040_0244, 0x0040_0245, 0x0040_0250,
        0x0040_0251, 0x0040_0254, 0x0040_0260, 0x0040_0261, 0x0040_0280, 0x0010_2210,
        // Clinical Trial Series module
        0x0012_0060, 0x0012_0071, 0x0012_0072,
        // General Equipment module
        0x0008_0070, 0x0008_0080, 0x0008_0081, 0x0008_1010, 0x0008_1040, 0x0008_1041, 0x0008_1090, 0x0018_100B,
        0x0018_1000, 0x0018_1002, 0x0018_1008, 0x0018_1009, 0x0018_1020, 0x0018_1050, 0x0018_1200, 0x0018_1201,
        0x0028_0120,
        // Frame of Reference module
        0x0020_0052, 0x0020_1040,
    ]
}
