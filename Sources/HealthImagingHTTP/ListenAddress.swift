/// The address the server binds, seen from a client: which URL to print, and whether other machines can reach it.
public enum ListenAddress {
    /// Whether only this machine can connect (`127.0.0.0/8`, `::1`, `localhost`).
    public static func isLoopback(_ host: String) -> Bool {
        let bare = unbracketed(host)
        return bare == "localhost" || bare == "::1" || bare.hasPrefix("127.")
    }

    /// The URL a client on this machine can use: a wildcard address (`0.0.0.0`, `::`) is no destination, so it
    /// prints the loopback address of its family; any other host is printed as given (IPv6 in brackets).
    public static func clientURL(host: String, port: Int) -> String {
        let bare = unbracketed(host)
        let shown: String
        switch bare {
        case "0.0.0.0", "": shown = "127.0.0.1"
        case "::", "0:0:0:0:0:0:0:0": shown = "[::1]"
        default: shown = bare.contains(":") ? "[\(bare)]" : bare
        }
        return "http://\(shown):\(port)"
    }

    /// An IPv6 host without its URL brackets (`[::1]` → `::1`); any other host as it is.
    private static func unbracketed(_ host: String) -> String {
        host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    }
}
