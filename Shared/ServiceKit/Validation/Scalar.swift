import Foundation

/// Conversions of JSON and text inputs to Swift scalars with pydantic's lax rules and error types.
enum Scalar {
    static func int(_ value: JSONValue) -> (Int?, type: String, msg: String) {
        switch value {
        case .int(let whole): return (whole, "", "")
        case .double(let number):
            if number.rounded() == number, let whole = Int(exactly: number) { return (whole, "", "") }
            return (nil, "int_from_float", "Input should be a valid integer, got a number with a fractional part")
        case .string(let text): return int(text: text)
        default: return (nil, "int_type", "Input should be a valid integer")
        }
    }

    static func int(text: String) -> (Int?, type: String, msg: String) {
        if let whole = Int(text.trimmingSpaces()) { return (whole, "", "") }
        return (nil, "int_parsing", "Input should be a valid integer, unable to parse string as an integer")
    }

    static func double(_ value: JSONValue) -> (Double?, type: String, msg: String) {
        switch value {
        case .int(let whole): return (Double(whole), "", "")
        case .double(let number): return (number, "", "")
        case .string(let text): return double(text: text)
        default: return (nil, "float_type", "Input should be a valid number")
        }
    }

    static func double(text: String) -> (Double?, type: String, msg: String) {
        if let number = Double(text.trimmingSpaces()), number.isFinite { return (number, "", "") }
        return (nil, "float_parsing", "Input should be a valid number, unable to parse string as a number")
    }

    static func bool(text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "1", "yes", "on", "t", "y": return true
        case "false", "0", "no", "off", "f", "n": return false
        default: return nil
        }
    }
}
