import Crypto
import Foundation
import JWTKit

/// RFC 7638 key ids: the SHA-256 of a key's required JWK members in lexicographic order,
/// base64url. The same key always gets the same `kid`, in every replica and after every restart,
/// with nothing to configure; users names its keys so, and tests sign with matching ids.
public enum KeyThumbprint {
    /// The thumbprint of an EC P-256 public key.
    public static func of(_ key: ES256PublicKey) -> String {
        guard let parameters = key.parameters else { return "" }
        let canonical = #"{"crv":"P-256","kty":"EC","x":"\#(parameters.x)","y":"\#(parameters.y)"}"#
        return base64URL(Data(SHA256.hash(data: Data(canonical.utf8))))
    }

    /// Base64url without padding (RFC 4648 §5), as JOSE writes every binary value.
    public static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
