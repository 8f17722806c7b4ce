import CLibevent
#if canImport(Glibc)
import Glibc
#endif

/// Completes one request's reply: given to a deferred reply's `start` (`Reply.deferred`), and used by the
/// server itself for replies held back by injected latency.
///
/// The connection waits for `send` (a client that only half-closed still gets the answer); if the client has gone,
/// the write fails quietly and the connection is freed. The responder holds the connection weakly, so a `send`
/// after it is freed, or after the server itself is gone, does nothing at all.
///
/// Not Sendable: loop thread only, like the connection it answers.
public final class Responder {
    private weak var server: HTTPServer?
    let outgoing: HTTPServer.Outgoing
    private let delayMillis: Int
    private let edits: [(inout Response) -> Void]
    /// The streamed request body (`Request.bodyFile`), removed once the reply is sent.
    private let bodyFile: BodyFile?
    private let loopThread = pthread_self()
    public private(set) var isSent = false

    init(server: HTTPServer, outgoing: HTTPServer.Outgoing, delayMillis: Int, edits: [(inout Response) -> Void],
         bodyFile: BodyFile?) {
        self.server = server
        self.outgoing = outgoing
        self.delayMillis = delayMillis
        self.edits = edits
        self.bodyFile = bodyFile
    }

    /// Sends the reply (after the reply's injected latency, if any). Call it once, on the loop thread; a
    /// second call is ignored.
    public func send(_ response: Response) {
        guard !isSent else { return }
        isSent = true
        var response = response
        for edit in edits { edit(&response) }
        guard let server else {
            bodyFile?.remove()
            return
        }
        server.transmit(outgoing.with(response), afterMillis: delayMillis, bodyFile: bodyFile)
    }

    /// A responder dropped unsent on the loop answers 500 rather than holding the connection for ever (a
    /// deferred operation that lost its completion). Off the loop nothing can be sent safely: it only
    /// removes the body file.
    deinit {
        guard !isSent else { return }
        if pthread_equal(pthread_self(), loopThread) != 0, let server {
            var response = server.refused(HTTPRefusal(.internalServer, "The server dropped this request's reply"))
            for edit in edits { edit(&response) }
            server.transmit(outgoing.with(response), afterMillis: 0, bodyFile: bodyFile)
        } else {
            bodyFile?.remove()
        }
    }
}

@available(*, unavailable)
extension Responder: Sendable {}
