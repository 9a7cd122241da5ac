import Foundation

/// A number for log metadata that the JSON handler writes unquoted without probing its type:
/// `.stringConvertible(JSONNumber(duration))`. Casting to this concrete type is far cheaper than
/// the protocol casts other values need.
public struct JSONNumber: CustomStringConvertible, Sendable {
    /// The JSON text of the number.
    public let description: String

    /// An integer.
    public init(_ value: Int) { description = String(value) }

    /// A double; non-finite values have no JSON form and are written as `null`, in log lines and
    /// answers alike (`JSONWriter.double`).
    public init(_ value: Double) { description = value.isFinite ? String(value) : "null" }
}
