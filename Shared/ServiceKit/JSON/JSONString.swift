import NIOCore

/// Where JSON text is written: a response's `ByteBuffer` or a log line's bytes.
protocol JSONByteOutput {
    mutating func appendByte(_ byte: UInt8)
    mutating func appendBytes(_ bytes: UnsafeBufferPointer<UInt8>)
}

extension ByteBuffer: JSONByteOutput {
    mutating func appendByte(_ byte: UInt8) { writeInteger(byte) }
    mutating func appendBytes(_ bytes: UnsafeBufferPointer<UInt8>) { writeBytes(bytes) }
}

extension Array: JSONByteOutput where Element == UInt8 {
    mutating func appendByte(_ byte: UInt8) { append(byte) }
    mutating func appendBytes(_ bytes: UnsafeBufferPointer<UInt8>) { append(contentsOf: bytes) }
}

/// The one JSON string escaper of ServiceKit, for answers and log lines alike: `"` and `\` and
/// control characters escaped (`\n`, `\r`, `\t`, else `\u00XX`), everything else copied as UTF-8.
enum JSONString {
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Writes `text` quoted. Most strings need no escaping and are copied whole.
    static func writeQuoted<Output: JSONByteOutput>(_ text: String, to output: inout Output) {
        output.appendByte(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            if !utf8.contains(where: needsEscape) {
                output.appendBytes(utf8)
                return
            }
            for byte in utf8 {
                switch byte {
                case UInt8(ascii: "\""): output.appendByte(UInt8(ascii: "\\")); output.appendByte(byte)
                case UInt8(ascii: "\\"): output.appendByte(UInt8(ascii: "\\")); output.appendByte(byte)
                case 0x0A: output.appendByte(UInt8(ascii: "\\")); output.appendByte(UInt8(ascii: "n"))
                case 0x0D: output.appendByte(UInt8(ascii: "\\")); output.appendByte(UInt8(ascii: "r"))
                case 0x09: output.appendByte(UInt8(ascii: "\\")); output.appendByte(UInt8(ascii: "t"))
                case 0..<0x20:
                    for escape in [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]] {
                        output.appendByte(escape)
                    }
                default: output.appendByte(byte)
                }
            }
        }
        output.appendByte(UInt8(ascii: "\""))
    }

    @inline(__always)
    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }
}
