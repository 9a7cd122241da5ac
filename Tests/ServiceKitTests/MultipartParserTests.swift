import NIOCore
@testable import ServiceKit
import Testing

/// ServiceKit's own multipart reader: what it reads, and what it refuses instead of trapping.
@Suite struct MultipartParserTests {
    struct Recorder: MultipartPartSink {
        var parts: [(headers: [String: String], body: String)] = []
        var headers: [String: String] = [:]
        var body: [UInt8] = []

        mutating func header(_ name: String, _ value: String) { headers[name.lowercased()] = value }
        mutating func body(_ buffer: inout ByteBuffer) { body += buffer.readBytes(length: buffer.readableBytes) ?? [] }
        mutating func partComplete() {
            parts.append((headers, String(decoding: body, as: UTF8.self)))
            headers = [:]
            body = []
        }
    }

    func parse(_ bytes: [UInt8], boundary: String = "XyZ", chunk: Int = .max) throws -> Recorder {
        var parser = try #require(MultipartParser(boundary: boundary))
        var recorder = Recorder()
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + chunk)
            try parser.feed(ByteBuffer(bytes: bytes[offset..<end]), into: &recorder)
            offset = end
        }
        try parser.finish()
        return recorder
    }

    let form = Array((
        "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
            + "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"été.png\"\r\nContent-Type: image/png\r\n\r\n"
            + "\r\n--Xy not yet\r\n--XyZ--\r\nepilogue"
    ).utf8)

    @Test func partsAreReadWhateverTheChunksTheyArriveIn() throws {
        for chunk in [1, 2, 3, 7, 64, Int.max] {
            let recorder = try parse(form, chunk: chunk)
            #expect(recorder.parts.count == 2, "chunks of \(chunk)")
            #expect(recorder.parts.first?.body == "hello")
            #expect(recorder.parts.last?.body == "\r\n--Xy not yet", "a partial delimiter in a body is body")
            #expect(recorder.parts.last?.headers["content-disposition"]?.contains("été.png") == true)
            #expect(recorder.parts.last?.headers["content-type"] == "image/png")
        }
    }

    @Test func aHeaderNameWithAByteAbove0x7FIsRefusedNotATrap() throws {
        var bytes = Array("--XyZ\r\nContent-Dispositi".utf8)
        bytes += [0xFF]
        bytes += Array("on: form-data; name=\"file\"\r\n\r\nx\r\n--XyZ--\r\n".utf8)
        #expect(throws: MultipartParser.Malformed.self) { try parse(bytes) }
    }

    @Test func malformedBodiesAreRefusedWithAReason() throws {
        let cases: [[UInt8]] = [
            Array("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno closing delimiter".utf8),
            Array("--XyZ\r\nNo colon here\r\n\r\nx\r\n--XyZ--".utf8),
            Array("--XyZ\r\n: no name\r\n\r\nx\r\n--XyZ--".utf8),
            Array("--XyZ\r\nName: a\u{01}b\r\n\r\nx\r\n--XyZ--".utf8),
            Array("--XyZ\r\nName: a\nb\r\n\r\nx\r\n--XyZ--".utf8),
            Array("--XyZ\r\nName: ".utf8) + [0xC3, 0x28] + Array("\r\n\r\nx\r\n--XyZ--".utf8),
            Array("--XyZjunk\r\n\r\nx\r\n--XyZ--".utf8),
            Array("--XyZ\r\nX: ".utf8) + Array(repeating: UInt8(ascii: "a"), count: 20_000) + Array("\r\n\r\nx\r\n--XyZ--".utf8),
            Array(("--XyZ\r\n" + String(repeating: "A: b\r\n", count: 40) + "\r\nx\r\n--XyZ--").utf8),
            [],
        ]
        for bytes in cases {
            #expect(throws: MultipartParser.Malformed.self, "\(String(decoding: bytes.prefix(60), as: UTF8.self))") { try parse(bytes) }
        }
    }

    @Test func moreThanAThousandPartsAreRefused() throws {
        let part = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n"
        #expect(throws: Never.self) { try parse(Array((String(repeating: part, count: 1000) + "--XyZ--").utf8)) }
        #expect(throws: MultipartParser.Malformed.self) { try parse(Array((String(repeating: part, count: 1001) + "--XyZ--").utf8)) }
    }

    @Test func boundariesRFC2046DoesNotAllowAreRefused() {
        #expect(MultipartParser(boundary: "") == nil)
        #expect(MultipartParser(boundary: String(repeating: "a", count: 71)) == nil)
        #expect(MultipartParser(boundary: "bad\"quote") == nil)
        #expect(MultipartParser(boundary: "trailing ") == nil)
        #expect(MultipartParser(boundary: "----WebKitFormBoundary7MA4YWxkTrZu0gW") != nil)
    }
}
