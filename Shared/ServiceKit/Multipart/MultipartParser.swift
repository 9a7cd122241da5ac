import NIOCore

/// What a `MultipartParser` reports as it reads: each part's headers, its body in pieces, its end.
protocol MultipartPartSink {
    /// One header of the part being read, its name as sent (ASCII token) and its value (UTF-8).
    mutating func header(_ name: String, _ value: String)
    /// The next bytes of the current part's body.
    mutating func body(_ buffer: inout ByteBuffer)
    /// The current part ended (its closing delimiter was read).
    mutating func partComplete()
}

/// A streaming `multipart/form-data` reader (RFC 2046 §5.1, RFC 7578) that refuses what it cannot
/// read instead of trapping. It replaces MultipartKit 4.7.1's parser, which indexed a 128-entry
/// table with any header byte (one request with a byte ≥ 0x80 in a part's header name crashed
/// the process) and accumulated header bytes without a bound.
///
/// Bytes are fed chunk by chunk as they arrive; at most one delimiter's length of a part's body is
/// held back between chunks (a delimiter may straddle two chunks), and a part's header block is
/// held until it is complete, up to `maxHeaderBytes`.
struct MultipartParser {
    /// Why a body was refused; `MultipartForm` answers 400 with the reason.
    struct Malformed: Error, Equatable, CustomStringConvertible {
        let description: String
    }

    private enum State {
        /// Before the first delimiter: anything there is ignored, as RFC 2046 says.
        case preamble
        /// Just after a delimiter: `--` ends the body, optional blanks and CRLF start a part.
        case afterDelimiter
        /// Reading a part's header block, up to the empty line.
        case headers
        /// Reading a part's body, up to the next delimiter.
        case body
        /// After the closing delimiter: ignored.
        case epilogue
    }

    /// Longest header block of one part; browsers send a few hundred bytes.
    static let maxHeaderBytes = 16 * 1024
    /// Most headers in one part.
    static let maxHeaders = 32
    /// RFC 2046 allows 1 to 70 characters.
    static let maxBoundaryLength = 70
    /// Most parts in one body, as Starlette's `max_parts` (CVE-2023-30798): each costs parsing
    /// and bookkeeping, and 100,000 one-byte parts fit under the upload limit.
    static let maxParts = 1000

    private let delimiter: [UInt8]
    private var pending = ByteBuffer()
    private var state = State.preamble
    private var parts = 0

    /// A parser for `boundary`; nil when the boundary is empty, too long or holds a byte RFC 2046
    /// does not allow there.
    init?(boundary: String) {
        let bytes = Array(boundary.utf8)
        guard !bytes.isEmpty, bytes.count <= Self.maxBoundaryLength, bytes.allSatisfy(Self.isBoundaryByte),
            bytes.last != UInt8(ascii: " ")
        else { return nil }
        delimiter = Array("\r\n--".utf8) + bytes
        // The first delimiter may open the body without a CRLF before it.
        pending.writeString("\r\n")
    }

    /// Reads `chunk`, reporting what it completes to `sink`.
    mutating func feed<Sink: MultipartPartSink>(_ chunk: ByteBuffer, into sink: inout Sink) throws {
        var chunk = chunk
        pending.writeBuffer(&chunk)
        while try step(&sink) {}
        if pending.readerIndex > 4096 { pending.discardReadBytes() }
    }

    /// Checks that the body ended with its closing delimiter.
    func finish() throws {
        guard case .epilogue = state else {
            throw Malformed(description: "Malformed multipart body: it ends before its closing boundary")
        }
    }

    /// One state transition; false when more bytes are needed.
    private mutating func step<Sink: MultipartPartSink>(_ sink: inout Sink) throws -> Bool {
        switch state {
        case .preamble:
            if let index = find(delimiter) {
                pending.moveReaderIndex(forwardBy: index + delimiter.count)
                state = .afterDelimiter
                return true
            }
            pending.moveReaderIndex(forwardBy: max(0, pending.readableBytes - (delimiter.count - 1)))
            return false
        case .afterDelimiter:
            let view = pending.readableBytesView
            guard view.count >= 2 else { return false }
            if view.starts(with: [UInt8(ascii: "-"), UInt8(ascii: "-")]) {
                state = .epilogue
                return true
            }
            // Transport padding (blanks) may follow a delimiter before its CRLF.
            let blanks = view.prefix { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }.count
            if blanks > 64 { throw Malformed(description: "Malformed multipart body: bad delimiter line") }
            guard view.count >= blanks + 2 else { return false }
            let rest = view.dropFirst(blanks)
            guard rest.starts(with: [0x0D, 0x0A]) else {
                throw Malformed(description: "Malformed multipart body: bad delimiter line")
            }
            pending.moveReaderIndex(forwardBy: blanks + 2)
            parts += 1
            guard parts <= Self.maxParts else {
                throw Malformed(description: "Malformed multipart body: more than \(Self.maxParts) parts")
            }
            state = .headers
            return true
        case .headers:
            let view = pending.readableBytesView
            if view.starts(with: [0x0D, 0x0A]) {
                pending.moveReaderIndex(forwardBy: 2)
                state = .body
                return true
            }
            guard let end = find([0x0D, 0x0A, 0x0D, 0x0A]) else {
                if view.count > Self.maxHeaderBytes {
                    throw Malformed(description: "Malformed multipart body: part headers too large")
                }
                return false
            }
            guard end <= Self.maxHeaderBytes else {
                throw Malformed(description: "Malformed multipart body: part headers too large")
            }
            let block = pending.readSlice(length: end)!
            pending.moveReaderIndex(forwardBy: 4)
            try Self.readHeaders(block, into: &sink)
            state = .body
            return true
        case .body:
            if let index = find(delimiter) {
                if index > 0 {
                    var piece = pending.readSlice(length: index)!
                    sink.body(&piece)
                }
                pending.moveReaderIndex(forwardBy: delimiter.count)
                sink.partComplete()
                state = .afterDelimiter
                return true
            }
            let safe = pending.readableBytes - (delimiter.count - 1)
            if safe > 0 {
                var piece = pending.readSlice(length: safe)!
                sink.body(&piece)
            }
            return false
        case .epilogue:
            pending.moveReaderIndex(forwardBy: pending.readableBytes)
            return false
        }
    }

    /// The offset of `needle` in the unread bytes, if it is there whole.
    private func find(_ needle: [UInt8]) -> Int? {
        let view = pending.readableBytesView
        guard view.count >= needle.count, let first = needle.first else { return nil }
        var index = view.startIndex
        let last = view.endIndex - needle.count
        while index <= last {
            guard let candidate = view[index...last].firstIndex(of: first) else { return nil }
            if view[candidate..<(candidate + needle.count)].elementsEqual(needle) {
                return candidate - view.startIndex
            }
            index = candidate + 1
        }
        return nil
    }

    /// Splits a header block into `name: value` lines. Names are RFC 9110 tokens, values hold no
    /// control byte but tab and are UTF-8 (browsers send file names that way); folded lines are
    /// refused, as RFC 9112 allows.
    private static func readHeaders<Sink: MultipartPartSink>(_ block: ByteBuffer, into sink: inout Sink) throws {
        let bytes = block.readableBytesView
        var count = 0
        for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            var line = line[...]
            guard line.last == 0x0D || line.endIndex == bytes.endIndex else {
                throw Malformed(description: "Malformed multipart body: a part header line does not end with CRLF")
            }
            if line.last == 0x0D { line = line.dropLast() }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex else {
                throw Malformed(description: "Malformed multipart body: a part header has no name")
            }
            let name = line[line.startIndex..<colon]
            guard name.allSatisfy(isTokenByte) else {
                throw Malformed(description: "Malformed multipart body: a part header name holds a byte that is not allowed there")
            }
            let value = line[(colon + 1)...].drop { $0 == 0x20 || $0 == 0x09 }
            let trimmed = value.reversed().drop { $0 == 0x20 || $0 == 0x09 }.reversed()
            guard trimmed.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }),
                let text = String(validating: trimmed, as: UTF8.self)
            else {
                throw Malformed(description: "Malformed multipart body: a part header value is not valid text")
            }
            count += 1
            guard count <= maxHeaders else {
                throw Malformed(description: "Malformed multipart body: too many part headers")
            }
            sink.header(String(decoding: name, as: UTF8.self), text)
        }
    }

    /// RFC 9110 `tchar`.
    static func isTokenByte(_ byte: UInt8) -> Bool { isAlphanumeric(byte, or: tokenExtras) }

    /// RFC 2046 `bchars`.
    static func isBoundaryByte(_ byte: UInt8) -> Bool { isAlphanumeric(byte, or: boundaryExtras) }

    private static let tokenExtras = Array("!#$%&'*+-.^_`|~".utf8)
    private static let boundaryExtras = Array("'()+_,-./:=? ".utf8)

    private static func isAlphanumeric(_ byte: UInt8, or extras: [UInt8]) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return extras.contains(byte)
        }
    }
}
