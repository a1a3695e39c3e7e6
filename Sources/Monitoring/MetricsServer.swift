import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where `--listen` binds: an IP address (or `localhost`) and a port.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: UInt16
    public var isIPv6: Bool

    public init(host: String, port: UInt16, isIPv6: Bool) {
        self.host = host
        self.port = port
        self.isIPv6 = isIPv6
    }

    /// `127.0.0.1:9187`, `localhost:9187`, `[::1]:9187`, `:9187` (loopback); port 0
    /// picks a free one.
    public static func parse(_ text: String) throws -> ListenAddress {
        func bad(_ why: String) -> MetricsServerError {
            .badAddress("--listen '\(text)': \(why). Give HOST:PORT, e.g. 127.0.0.1:9187 or [::1]:9187.")
        }
        var host: Substring, portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { throw bad("no port after the IPv6 address") }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw bad("no port") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = UInt16(portText) else { throw bad("the port must be a number from 0 to 65535") }
        if host.isEmpty || host == "localhost" { host = "127.0.0.1" }
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, String(host), &v4) == 1 { return ListenAddress(host: String(host), port: port, isIPv6: false) }
        if inet_pton(AF_INET6, String(host), &v6) == 1 { return ListenAddress(host: String(host), port: port, isIPv6: true) }
        throw bad("'\(host)' is not an IP address (host names other than localhost are not looked up)")
    }

    /// 127.0.0.0/8 or ::1: only this machine can connect.
    public var isLoopback: Bool {
        if isIPv6 {
            var v6 = in6_addr()
            guard inet_pton(AF_INET6, host, &v6) == 1 else { return false }
            return withUnsafeBytes(of: &v6) { bytes in bytes.prefix(15).allSatisfy { $0 == 0 } && bytes[15] == 1 }
        }
        return host.split(separator: ".").first == "127"
    }

    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

public enum MetricsServerError: Error, CustomStringConvertible {
    case badAddress(String)
    case system(String)

    public var description: String {
        switch self {
        case let .badAddress(text), let .system(text): return text
        }
    }
}

/// A request line, as far as `/metrics` cares.
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    public var path: String
    /// The `Accept` header (to offer OpenMetrics to a scraper that asks for it).
    public var accept: String

    public init(method: String, path: String, accept: String) {
        self.method = method
        self.path = path
        self.accept = accept
    }

    /// Parses the head of a request (up to the blank line); nil when it is not HTTP/1.x.
    public static func parse(_ head: [UInt8]) -> HTTPRequest? {
        guard String(validating: head, as: UTF8.self) != nil else { return nil }
        // By bytes: "\r\n" is one Character, so a String split on "\n" would not see it.
        let lines = head.split(separator: 0x0A, omittingEmptySubsequences: false)
            .map { String(decoding: $0.last == 0x0D ? $0.dropLast() : $0, as: UTF8.self) }
        guard let first = lines.first else { return nil }
        let words = first.split(separator: " ", omittingEmptySubsequences: false)
        guard words.count == 3, words[2].hasPrefix("HTTP/1."), !words[0].isEmpty,
              words[0].allSatisfy({ $0.isASCII && $0.isUppercase }), words[1].hasPrefix("/") || words[1] == "*" else { return nil }
        var accept = ""
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].lowercased() == "accept" { accept = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
        }
        let target = words[1]
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        return HTTPRequest(method: String(words[0]), path: path, accept: accept)
    }
}

/// What the server answers.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var reason: String
    public var contentType: String
    public var body: [UInt8]
    public var extraHeaders: [String] = []

    public init(status: Int, reason: String, contentType: String = "text/plain; charset=utf-8", body: [UInt8], extraHeaders: [String] = []) {
        self.status = status
        self.reason = reason
        self.contentType = contentType
        self.body = body
        self.extraHeaders = extraHeaders
    }

    static func text(_ status: Int, _ reason: String, _ body: String, extraHeaders: [String] = []) -> HTTPResponse {
        HTTPResponse(status: status, reason: reason, body: Array(body.utf8), extraHeaders: extraHeaders)
    }

    /// The bytes sent (the head alone for HEAD).
    func bytes(headOnly: Bool) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
        for header in extraHeaders { head += header + "\r\n" }
        head += "\r\n"
        return Array(head.utf8) + (headOnly ? [] : body)
    }
}

/// Routing: `/metrics` (GET and HEAD) to `scrape`, `/` to a pointer to it, anything
/// else 404, other methods 405. `scrape` gets the request (for its Accept header).
public func route(_ request: HTTPRequest?, scrape: (HTTPRequest) -> HTTPResponse) -> HTTPResponse {
    guard let request else { return .text(400, "Bad Request", "Not an HTTP/1.x request.\n") }
    guard request.method == "GET" || request.method == "HEAD" else {
        return .text(405, "Method Not Allowed", "Only GET and HEAD.\n", extraHeaders: ["Allow: GET, HEAD"])
    }
    switch request.path {
    case "/metrics": return scrape(request)
    case "/": return .text(200, "OK", "meltano-state: metrics are at /metrics\n")
    default: return .text(404, "Not Found", "Not found; metrics are at /metrics\n")
    }
}

/// A small HTTP/1.1 server for scrapes: one request per connection (`Connection:
/// close`), each on a thread of its own, at most `maxConnections` at once (more wait
/// in the listen backlog); a client gets `requestTimeout` seconds to send its request
/// (8 KiB at most) and to read the answer.
public final class MetricsServer: @unchecked Sendable {
    public let address: ListenAddress
    private let socket: Int32
    public var maxConnections = 8
    public var requestTimeout: Double = 5

    /// Binds and listens. A non-loopback address is refused unless `allowRemote`:
    /// metrics name every state ID, and this server has no TLS and no authentication.
    public init(_ requested: ListenAddress, allowRemote: Bool) throws {
        guard requested.isLoopback || allowRemote else {
            throw MetricsServerError.badAddress("--listen \(requested): not a loopback address. The metrics name every state ID and this server has neither TLS nor authentication, so it listens on 127.0.0.1 or ::1 only; add --allow-remote to listen on \(requested.host) anyway (e.g. behind a firewall), or put a proxy in front.")
        }
        let family = requested.isIPv6 ? AF_INET6 : AF_INET
        let fd = Glibc.socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw MetricsServerError.system("cannot open a socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var status: Int32
        if requested.isIPv6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = requested.port.bigEndian
            inet_pton(AF_INET6, requested.host, &address.sin6_addr)
            status = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = requested.port.bigEndian
            inet_pton(AF_INET, requested.host, &address.sin_addr)
            status = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        }
        if status == 0 { status = listen(fd, 64) }
        guard status == 0 else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw MetricsServerError.system("cannot listen on \(requested): \(why)\(errno == EADDRINUSE ? " (another process listens there: pick another port)" : "")")
        }
        // The port actually bound (port 0 asks the system for a free one).
        var bound = sockaddr_in6()
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        var actual = requested
        actual.port = UInt16(bigEndian: bound.sin6_port)  // sin_port and sin6_port share their offset
        address = actual
        socket = fd
    }

    deinit { close(socket) }

    /// Accepts and answers until `stopDescriptor` becomes readable (a signal's pipe).
    public func serve(until stopDescriptor: Int32, _ handle: @escaping @Sendable (HTTPRequest?) -> HTTPResponse) {
        let slots = DispatchSemaphore(value: maxConnections)
        let timeout = requestTimeout
        while true {
            var fds = [pollfd(fd: socket, events: Int16(POLLIN), revents: 0), pollfd(fd: stopDescriptor, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, -1)
            if ready < 0 { if errno == EINTR { continue }; return }
            if fds[1].revents != 0 { return }
            guard fds[0].revents & Int16(POLLIN) != 0 else { continue }
            let client = accept(socket, nil, nil)
            guard client >= 0 else { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            slots.wait()
            Thread.detachNewThread {
                defer { close(client); slots.signal() }
                MetricsServer.answer(client, timeout: timeout, handle)
            }
        }
    }

    static func answer(_ client: Int32, timeout: Double, _ handle: (HTTPRequest?) -> HTTPResponse) {
        var time = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        var head: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        let limit = 8192
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }  // closed or timed out before a whole request: nothing to answer
            head.append(contentsOf: buffer[0..<n])
            if let end = headEnd(head) { head.removeSubrange(end...); break }
            if head.count > limit {
                send(client, HTTPResponse.text(431, "Request Header Fields Too Large", "The request head is over 8 KiB.\n").bytes(headOnly: false))
                return
            }
        }
        let request = HTTPRequest.parse(head)
        send(client, handle(request).bytes(headOnly: request?.method == "HEAD"))
    }

    /// Where the blank line ending the head starts, if it arrived.
    static func headEnd(_ bytes: [UInt8]) -> Int? {
        var i = 0
        while i + 1 < bytes.count {
            if bytes[i] == 0x0A && bytes[i + 1] == 0x0A { return i }
            if i + 3 < bytes.count && bytes[i] == 0x0D && bytes[i + 1] == 0x0A && bytes[i + 2] == 0x0D && bytes[i + 3] == 0x0A { return i }
            i += 1
        }
        return nil
    }

    static func send(_ client: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(client, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            offset += n
        }
    }
}
