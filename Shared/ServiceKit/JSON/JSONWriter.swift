import NIOCore

/// Writes JSON straight into a buffer: what `@Model` types use to answer, with no `Encoder`,
/// no intermediate containers and no dynamic dispatch per field.
public struct JSONWriter {
    /// The bytes written so far.
    public private(set) var buffer: ByteBuffer
    private var needsComma = false

    public init(capacity: Int = 256) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    public mutating func beginObject() { separate(); buffer.writeInteger(UInt8(ascii: "{")); needsComma = false }
    public mutating func endObject() { buffer.writeInteger(UInt8(ascii: "}")); needsComma = true }
    public mutating func beginArray() { separate(); buffer.writeInteger(UInt8(ascii: "[")); needsComma = false }
    public mutating func endArray() { buffer.writeInteger(UInt8(ascii: "]")); needsComma = true }

    /// Before each element of an array: elements separate themselves.
    public mutating func arrayElement() {}

    /// `"key": value` inside an object.
    public mutating func field(_ key: String, _ value: some FieldValue) {
        separate()
        writeQuoted(key)
        buffer.writeInteger(UInt8(ascii: ":"))
        needsComma = false
        value.writeJSON(to: &self)
    }

    /// `"key":` inside an object, before a value written by another call.
    public mutating func key(_ key: String) {
        separate()
        writeQuoted(key)
        buffer.writeInteger(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func string(_ value: String) { separate(); writeQuoted(value); needsComma = true }
    public mutating func int(_ value: Int) { separate(); buffer.writeString(String(value)); needsComma = true }
    public mutating func bool(_ value: Bool) { separate(); buffer.writeStaticString(value ? "true" : "false"); needsComma = true }
    public mutating func null() { separate(); buffer.writeStaticString("null"); needsComma = true }

    /// Non-finite numbers have no JSON form and are written as null (as `JSONNumber` writes them).
    public mutating func double(_ value: Double) {
        separate()
        buffer.writeString(JSONNumber(value).description)
        needsComma = true
    }

    /// A `JSONValue` as is.
    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let flag): bool(flag)
        case .int(let number): int(number)
        case .double(let number): double(number)
        case .string(let text): string(text)
        case .array(let elements):
            beginArray()
            for element in elements { self.value(element) }
            endArray()
        case .object(let fields):
            beginObject()
            for key in fields.keys.sorted() {
                separate()
                writeQuoted(key)
                buffer.writeInteger(UInt8(ascii: ":"))
                needsComma = false
                self.value(fields[key]!)
            }
            endObject()
        }
    }

    private mutating func separate() {
        if needsComma { buffer.writeInteger(UInt8(ascii: ",")) }
    }

    private mutating func writeQuoted(_ text: String) {
        JSONString.writeQuoted(text, to: &buffer)
    }
}
