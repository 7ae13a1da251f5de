import SSEClient
import SSEServer
import Synchronization

/// Which of the workbench's named clients holds which of the embedded server's connections, so the
/// server's log says `client 7 (c1) connected` and a class can follow one client across its
/// reconnections. A connection is matched when it arrives, by the client's local address (the
/// client attaches its connection before it sends the request, so the address is known by then),
/// and keeps its name until it leaves.
///
/// Read from the server's log callback on its threads, hence the lock.
final class ClientDirectory: Sendable {
    private struct State {
        var controllers: [String: ClientController] = [:]
        var names: [Int: String] = [:]
    }

    private let state = Mutex(State())

    func add(_ name: String, _ controller: ClientController) { state.withLock { $0.controllers[name] = controller } }

    func remove(_ name: String) { state.withLock { $0.controllers[name] = nil } }

    /// The name of the client `entry` is about, if it is one of ours; a departure forgets it.
    func name(for entry: ServerLogEntry) -> String? {
        state.withLock { state in
            switch entry {
            case .connected(let client, _, let remote, _):
                let owner = state.controllers.first { _, controller in
                    guard let local = controller.localAddress else { return false }
                    return remote == "\(local.ip):\(local.port)" || remote == "[\(local.ip)]:\(local.port)"
                }?.key
                state.names[client] = owner
                return owner
            case .disconnected(let client, _, _): return state.names.removeValue(forKey: client)
            default: return entry.clientNumber.flatMap { state.names[$0] }
            }
        }
    }
}
