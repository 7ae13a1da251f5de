/// The bytes of each scenario `ClientCheckMachine` plays: whole HTTP/1.1 responses that end with the
/// connection (`Connection: close`), open to every origin (CORS).
extension ClientCheckMachine {
    func answer(for scenario: Int, request: Request) -> Answer {
        switch scenario {
        case 0: return stream("retry: \(Self.retry.components.seconds * 1000)\n\nid: 1\ndata: first\n\nid: 2\ndata: second\n\n", request)
        case 1: return stream("data: an event without an id\n\n", request)
        case 2: return stream("id:\ndata: an event with an empty id\n\n", request)
        case 3: return stream("id: 10\ndata: whole\n\nid: 11\ndata: cut in the midd", request, ending: .reset(after: .milliseconds(500)))
        case 4:
            // The target came from the client: only visible ASCII goes back into a header.
            let target = request.target.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) ? request.target : "/"
            let separator = target.contains("?") ? "&" : "?"
            return Answer(
                bytes: head("307 Temporary Redirect", request, ["Location: \(target)\(separator)\(Self.redirectMarker)", "Content-Length: 0"]),
                ending: .close)
        default:
            switch end {
            case .noContent: return Answer(bytes: head("204 No Content", request, []), ending: .close)
            case .serverError:
                let body = "drip check client: a 500, to see that the client does not retry at once\n"
                return Answer(
                    bytes: head("500 Internal Server Error", request, ["Content-Type: text/plain", "Content-Length: \(body.utf8.count)"])
                        + Array(body.utf8),
                    ending: .close)
            case .wrongType:
                return Answer(
                    bytes: head("200 OK", request, ["Content-Type: text/plain"]) + Array("data: not an event stream\n\n".utf8), ending: .close)
            }
        }
    }

    /// A CORS preflight: every method and header allowed, not a step of the run.
    func preflight(_ request: Request) -> Answer {
        let headers = request.value(of: "Access-Control-Request-Headers").map { ["Access-Control-Allow-Headers: \($0)"] } ?? []
        return Answer(
            bytes: head("204 No Content", request, ["Access-Control-Allow-Methods: GET, POST", "Access-Control-Max-Age: 60"] + headers),
            ending: .close)
    }

    private func stream(_ body: String, _ request: Request, ending: Answer.Ending = .close) -> Answer {
        Answer(bytes: head("200 OK", request, ["Content-Type: text/event-stream", "Cache-Control: no-cache"]) + Array(body.utf8), ending: ending)
    }

    /// A status line and headers; the `Origin` is echoed (with credentials allowed) so that a page
    /// of any origin, with or without `withCredentials`, may read the answer.
    private func head(_ status: String, _ request: Request, _ headers: [String]) -> [UInt8] {
        var lines = ["HTTP/1.1 \(status)"] + headers
        if let origin = request.value(of: "Origin"), origin.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) {
            lines += ["Access-Control-Allow-Origin: \(origin)", "Access-Control-Allow-Credentials: true", "Vary: Origin"]
        } else {
            lines.append("Access-Control-Allow-Origin: *")
        }
        lines.append("Connection: close")
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
    }
}
