import Synchronization

/// When a peer's circuit opens and how long it stays open.
public struct CircuitBreakerPolicy: Sendable {
    /// Consecutive failures (transport errors and 5xx answers) that open the circuit.
    public var failureThreshold: Int
    /// How long an open circuit fails calls at once before letting one trial through.
    public var openDuration: Duration

    /// Five failures in a row open it for five seconds.
    public init(failureThreshold: Int = 5, openDuration: Duration = .seconds(5)) {
        self.failureThreshold = max(1, failureThreshold)
        self.openDuration = openDuration
    }
}

/// The state of one peer's circuit, as exported by the `http_client_circuit_state` gauge.
public enum CircuitState: Int, Sendable {
    /// Calls go through; failures are counted.
    case closed = 0
    /// One trial call is in flight; its outcome closes or reopens the circuit.
    case halfOpen = 1
    /// Calls fail at once with `CurlHTTPError.circuitOpen`.
    case open = 2
}

/// A circuit breaker per peer: closed, open after repeated failures, half-open for one trial.
final class CircuitBreakers: Sendable {
    private struct Circuit {
        var state: CircuitState = .closed
        var failures = 0
        var openedAt: ContinuousClock.Instant?
        var trialInFlight = false
    }

    private let policy: CircuitBreakerPolicy
    private let circuits = Mutex<[String: Circuit]>([:])
    /// Called with the new state whenever a peer's circuit changes, for the gauge.
    private let onChange: @Sendable (String, CircuitState) -> Void

    init(policy: CircuitBreakerPolicy, onChange: @escaping @Sendable (String, CircuitState) -> Void) {
        self.policy = policy
        self.onChange = onChange
    }

    /// Whether a call to `peer` may go out now. In half-open state only one trial is let through.
    func permit(_ peer: String, now: ContinuousClock.Instant = .now) -> Bool {
        let (allowed, changed) = circuits.withLock { circuits -> (Bool, CircuitState?) in
            var circuit = circuits[peer, default: Circuit()]
            defer { circuits[peer] = circuit }
            switch circuit.state {
            case .closed:
                return (true, nil)
            case .open:
                guard let openedAt = circuit.openedAt, now - openedAt >= policy.openDuration else { return (false, nil) }
                circuit.state = .halfOpen
                circuit.trialInFlight = true
                return (true, .halfOpen)
            case .halfOpen:
                if circuit.trialInFlight { return (false, nil) }
                circuit.trialInFlight = true
                return (true, nil)
            }
        }
        if let changed { onChange(peer, changed) }
        return allowed
    }

    /// Records a call's outcome: a success closes the circuit, failures may open it.
    func record(_ peer: String, success: Bool, now: ContinuousClock.Instant = .now) {
        let changed = circuits.withLock { circuits -> CircuitState? in
            var circuit = circuits[peer, default: Circuit()]
            defer { circuits[peer] = circuit }
            let before = circuit.state
            circuit.trialInFlight = false
            if success {
                circuit.failures = 0
                circuit.state = .closed
                circuit.openedAt = nil
            } else {
                circuit.failures += 1
                if circuit.state == .halfOpen || circuit.failures >= policy.failureThreshold {
                    circuit.state = .open
                    circuit.openedAt = now
                }
            }
            return circuit.state == before ? nil : circuit.state
        }
        if let changed { onChange(peer, changed) }
    }

    /// Ends a call that says nothing about the peer's health (it was cancelled), freeing a trial slot.
    func release(_ peer: String) {
        circuits.withLock { circuits in circuits[peer]?.trialInFlight = false }
    }

    /// The current state of a peer's circuit.
    func state(of peer: String) -> CircuitState {
        circuits.withLock { $0[peer]?.state ?? .closed }
    }
}
