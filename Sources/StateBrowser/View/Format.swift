/// Numbers and ages as the screen shows them.
public enum Format {
    /// "12s", "4m", "5h", "3d", "2y": four cells at most, for the list.
    public static func shortAge(_ seconds: Double) -> String {
        if seconds < 0 { return "-" + shortAge(-seconds) }
        let s = Int(seconds.rounded(.down))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" }
        if s < 86_400 { return "\(s / 3600)h" }
        if s < 365 * 86_400 { return "\(s / 86_400)d" }
        return "\(s / (365 * 86_400))y"
    }

    /// "3 s", "4 min 12 s", "2 h 05 min", "3 d 4 h" (as the CLI writes ages).
    public static func longAge(_ seconds: Double) -> String {
        if seconds < 0 { return "-" + longAge(-seconds) }
        let s = Int(seconds.rounded(.down))
        if s < 60 { return "\(s) s" }
        if s < 3600 { return s % 60 == 0 ? "\(s / 60) min" : "\(s / 60) min \(s % 60) s" }
        if s < 86_400 {
            let minutes = (s % 3600) / 60
            return "\(s / 3600) h \(minutes < 10 ? "0" : "")\(minutes) min"
        }
        return "\(s / 86_400) d \((s % 86_400) / 3600) h"
    }

    /// 1234567 → "1,234,567".
    public static func thousands(_ value: Int) -> String {
        let digits = String(abs(value))
        var result = ""
        for (index, character) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { result.append(",") }
            result.append(character)
        }
        return (value < 0 ? "-" : "") + result
    }

    /// 1536 → "1.5 KB".
    public static func bytes(_ count: Int) -> String {
        if count < 1024 { return "\(count) B" }
        let units = ["KB", "MB", "GB"]
        var value = Double(count) / 1024
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }

    /// The first 19 characters of a stored timestamp ("2025-11-25 00:15:02").
    public static func timestamp(_ text: String?) -> String {
        guard let text else { return "—" }
        return String(text.prefix(19))
    }
}
