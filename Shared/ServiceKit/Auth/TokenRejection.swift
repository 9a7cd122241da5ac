import HTTPTypes

/// Why a bearer token was refused. Every case is a 401 with `WWW-Authenticate: Bearer`; the
/// `error` attribute follows RFC 6750 §3.1: none when no credentials came, `invalid_token` for a
/// token that is malformed, badly signed, expired or meant for someone else.
public enum TokenRejection: Error, Equatable, Sendable, CustomStringConvertible {
    /// No `Authorization` header, or one of another scheme.
    case missing
    /// Not three base64url parts with a JSON header and payload, or claims that do not decode
    /// (a missing `exp` or `sub`).
    case malformed(String)
    /// The header's `alg` is not the one the keys use (`none`, `HS256` …).
    case algorithm(String)
    /// No `kid`, or one the keys do not have.
    case unknownKey(String)
    /// The signature does not match the header and payload.
    case signature
    /// `exp` has passed (beyond the leeway).
    case expired
    /// `nbf` is still ahead (beyond the leeway).
    case notYetValid
    /// `iss` is not the expected issuer.
    case issuer(String)
    /// `aud` does not name this audience.
    case audience
    /// The key set could not be had at all (the issuer unreachable before any fetch succeeded).
    case keysUnavailable

    /// What the log line and the answer's `detail` say.
    public var description: String {
        switch self {
        case .missing: return "Not authenticated"
        case .malformed(let why): return "Invalid token: \(why)"
        case .algorithm(let alg): return "Invalid token: algorithm \(alg) is not accepted"
        case .unknownKey(let kid): return kid.isEmpty ? "Invalid token: no key id" : "Invalid token: unknown key"
        case .signature: return "Invalid token: bad signature"
        case .expired: return "Invalid token: expired"
        case .notYetValid: return "Invalid token: not valid yet"
        case .issuer: return "Invalid token: wrong issuer"
        case .audience: return "Invalid token: wrong audience"
        case .keysUnavailable: return "Invalid token: signing keys unavailable"
        }
    }

    /// The `WWW-Authenticate` value of the 401.
    public var challenge: String {
        switch self {
        case .missing: return "Bearer"
        default: return #"Bearer error="invalid_token", error_description="\#(description)""#
        }
    }

    /// The problem answered for it: 401, except when the keys could not be had at all, which is
    /// the issuer's outage and not the caller's fault (503, so clients keep their tokens).
    public var problem: HTTPProblem {
        if self == .keysUnavailable {
            return HTTPProblem(.serviceUnavailable, detail: description, headers: [.retryAfter: "1"])
        }
        return HTTPProblem(.unauthorized, detail: description, headers: [.wwwAuthenticate: challenge])
    }
}
