import NIOCore
import NIOHTTP1

/// Who may use the server: the token, and the CORS headers each answer carries.
extension HTTPConnectionHandler {
    func authorized(_ request: Request) -> Bool {
        guard let token = server.configuration.token else { return true }
        // The scheme is case-insensitive (RFC 9110 §11.1), followed by one or more spaces.
        let bearer = request.head.headers.first(name: "Authorization").flatMap { value -> String? in
            let scheme = value.prefix { $0 != " " }
            guard scheme.lowercased() == "bearer" else { return nil }
            return String(value.dropFirst(scheme.count).drop { $0 == " " })
        }
        let offered = bearer ?? request.query["token"] ?? ""
        return ConstantTime.equals(offered, token)
    }

    func unauthorized(_ context: ChannelHandlerContext, cors: [(String, String)], keepAlive: Bool) {
        server.log(.requestError(remote: remote, status: 401, reason: "missing or wrong token"))
        respond(
            context, status: 401, body: "401 Unauthorized: send Authorization: Bearer TOKEN or ?token=TOKEN\n",
            headers: cors + [("WWW-Authenticate", "Bearer")], keepAlive: keepAlive)
    }

    func corsHeaders(for head: HTTPRequestHead) -> [(String, String)] {
        let origin = head.headers.first(name: "Origin")
        let allowed = server.configuration.allowedOrigins
        if allowed.isEmpty {
            guard let origin else { return [("Access-Control-Allow-Origin", "*")] }
            return [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
        }
        guard let origin, allowed.contains(origin) else { return [("Vary", "Origin")] }
        return [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
    }
}
