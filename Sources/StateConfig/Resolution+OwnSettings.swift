import Foundation

/// This tool's own settings (`OwnSettings`): layout, lock timeout, stale-lock threshold,
/// refresh interval, connect timeout, read-only mode, editor, colours, journal.
struct OwnValues {
    var layout: LayoutPreference
    var lockTimeout: Double
    var staleLockAfter: Double
    var refreshInterval: Double
    var readOnly: Bool
    var editor: String
    var color: ColorChoice
    var journalPath: String
}

extension Resolution {
    /// Every own setting but the connect timeout (resolved first, as the connection needs
    /// it), whose entry goes in its place among them.
    mutating func resolveOwnSettings(backend: Backend, connectTimeoutEntry: ResolvedConfiguration.Entry,
                                     entries: inout [ResolvedConfiguration.Entry]) throws -> OwnValues {
        let layoutFound = try own(OwnSettings.layout)
        var layout = LayoutPreference.auto
        if let text = layoutFound?.value {
            guard let parsed = LayoutPreference(rawValue: text.lowercased()) else {
                throw invalid(OwnSettings.layout, found: layoutFound!, expected: LayoutPreference.allCases.map(\.rawValue).joined(separator: ", "))
            }
            layout = parsed
        }
        entries.append(ownEntry(OwnSettings.layout, found: layoutFound, display: layout.rawValue,
                                note: layout == .auto ? "starts from \(backend.impliedLayout.rawValue)" : nil))

        let lockTimeout = try seconds(OwnSettings.lockTimeout, default: OwnSettings.defaultLockTimeout, allowZero: true, entries: &entries)
        let staleLockAfter = try seconds(OwnSettings.staleLockAfter, default: OwnSettings.defaultStaleLockAfter, allowZero: false, entries: &entries)
        let refreshInterval = try seconds(OwnSettings.refreshInterval, default: OwnSettings.defaultRefreshInterval, allowZero: false, entries: &entries)
        entries.append(connectTimeoutEntry)

        let readOnlyFound = try own(OwnSettings.readOnly)
        var readOnly = false
        if let text = readOnlyFound?.value {
            guard let parsed = parseBool(text) else {
                throw invalid(OwnSettings.readOnly, found: readOnlyFound!, expected: "true or false")
            }
            readOnly = parsed
        }
        entries.append(ownEntry(OwnSettings.readOnly, found: readOnlyFound, display: readOnly ? "true" : "false"))

        let editorFound = try own(OwnSettings.editor)
        let editor: String
        if let value = editorFound?.value {
            editor = value
            entries.append(ownEntry(OwnSettings.editor, found: editorFound, display: value))
        } else if let visual = inputs.environment["VISUAL"], !visual.isEmpty {
            editor = visual
            entries.append(.init(key: OwnSettings.editor.key, value: visual, source: .environment(variable: "VISUAL"),
                                 environmentVariable: OwnSettings.editor.environmentVariable, note: editorFound?.note))
        } else if let fallback = inputs.environment["EDITOR"], !fallback.isEmpty {
            editor = fallback
            entries.append(.init(key: OwnSettings.editor.key, value: fallback, source: .environment(variable: "EDITOR"),
                                 environmentVariable: OwnSettings.editor.environmentVariable, note: editorFound?.note))
        } else {
            editor = "vi"
            entries.append(ownEntry(OwnSettings.editor, found: editorFound, display: "vi"))
        }

        let colorFound = try own(OwnSettings.color)
        var color = ColorChoice.auto
        if let text = colorFound?.value {
            guard let parsed = ColorChoice(rawValue: text.lowercased()) else {
                throw invalid(OwnSettings.color, found: colorFound!, expected: "auto, always or never")
            }
            color = parsed
            entries.append(ownEntry(OwnSettings.color, found: colorFound, display: color.rawValue))
        } else if let noColor = inputs.environment["NO_COLOR"], !noColor.isEmpty {
            color = .never
            entries.append(.init(key: OwnSettings.color.key, value: "never", source: .environment(variable: "NO_COLOR"),
                                 environmentVariable: OwnSettings.color.environmentVariable, note: "NO_COLOR is set"))
        } else {
            entries.append(ownEntry(OwnSettings.color, found: colorFound, display: "auto"))
        }

        let journalFound = try own(OwnSettings.journal)
        let journalPath: String
        if let value = journalFound?.value {
            let base: String
            if case .configFile(let path, _) = journalFound!.source {
                base = (path as NSString).deletingLastPathComponent
            } else {
                base = absolutePath(inputs.workingDirectory, relativeTo: "/")
            }
            journalPath = absolutePath(value, relativeTo: base)
            entries.append(ownEntry(OwnSettings.journal, found: journalFound, display: abbreviateHome(journalPath, home: home)))
        } else {
            let stateHome = inputs.environment["XDG_STATE_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil }
            journalPath = (stateHome ?? home + "/.local/state") + "/meltano-state/journal.jsonl"
            entries.append(ownEntry(OwnSettings.journal, found: journalFound, display: abbreviateHome(journalPath, home: home),
                                    note: stateHome != nil ? "under XDG_STATE_HOME" : nil))
        }
        return OwnValues(layout: layout, lockTimeout: lockTimeout, staleLockAfter: staleLockAfter,
                         refreshInterval: refreshInterval, readOnly: readOnly, editor: editor, color: color,
                         journalPath: journalPath)
    }

    mutating func own(_ setting: OwnSetting) throws -> Found? {
        try lookup(setting.key, variable: setting.environmentVariable, meltano: false)
    }

    func ownEntry(_ setting: OwnSetting, found: Found?, display: String, note: String? = nil) -> ResolvedConfiguration.Entry {
        var notes: [String] = []
        var source = SettingSource.default
        if let found {
            if found.value != nil {
                source = found.source
                if let note = found.note { notes.append(note) }
            } else {
                notes.append("\(found.source.label(home: home)) is \(found.note ?? "set but empty"), so the default applies")
            }
        }
        if let note { notes.append(note) }
        return .init(key: setting.key, value: display, source: source, environmentVariable: setting.environmentVariable,
                     note: notes.isEmpty ? nil : notes.joined(separator: "; "))
    }

    func invalid(_ setting: OwnSetting, found: Found, expected: String) -> ConfigurationError {
        // Given on the command line: the fix is the flag, not a setting the user did not touch.
        let fix = found.source == .flag ? "Give --\(setting.key.replacingOccurrences(of: "_", with: "-")) \(expected)."
            : "Set \(setting.key) (\(setting.environmentVariable)) to \(expected)."
        return ConfigurationError(problem: "\(setting.key) is \(quoted(found.value ?? "")), which is not \(expected)",
                                  source: found.source.label(home: home), fix: fix)
    }

    mutating func seconds(_ setting: OwnSetting, default defaultValue: Double, allowZero: Bool,
                          entries: inout [ResolvedConfiguration.Entry]) throws -> Double {
        let expected = allowZero ? "a number of seconds (30, 1.5, 500ms, 2m)" : "a positive number of seconds (30, 1.5, 500ms, 2m)"
        if let typed = inputs.flagSeconds[setting.key] {
            // The command line's number as it is; text only to name it in an error.
            let given = Found(value: String(typed), source: .flag, note: nil)
            guard typed.isFinite, typed >= 0, allowZero || typed > 0 else { throw invalid(setting, found: given, expected: expected) }
            entries.append(ownEntry(setting, found: given, display: formatSeconds(typed)))
            return typed
        }
        let found = try own(setting)
        var value = defaultValue
        if let text = found?.value {
            guard let parsed = parseSeconds(text), allowZero || parsed > 0 else {
                throw invalid(setting, found: found!, expected: expected)
            }
            value = parsed
        }
        entries.append(ownEntry(setting, found: found, display: formatSeconds(value)))
        return value
    }

    mutating func resolveConnectTimeout() throws -> (value: Int, entry: ResolvedConfiguration.Entry) {
        let found = try own(OwnSettings.connectTimeout)
        var value = 10
        if let text = found?.value {
            guard let parsed = parseSeconds(text), parsed >= 1 else {
                throw invalid(OwnSettings.connectTimeout, found: found!, expected: "a number of seconds, at least 1")
            }
            value = Int(parsed.rounded(.up))
        }
        return (value, ownEntry(OwnSettings.connectTimeout, found: found, display: "\(value) s"))
    }
}

/// Meltano's boolean words (`strtobool`): y, yes, t, true, on, 1 and n, no, f, false, off, 0.
func parseBool(_ text: String) -> Bool? {
    switch text.trimmingCharacters(in: .whitespaces).lowercased() {
    case "y", "yes", "t", "true", "on", "1": return true
    case "n", "no", "f", "false", "off", "0": return false
    default: return nil
    }
}

/// `30`, `1.5`, `30s`, `500ms`, `2m`, `2h`, `1d` as seconds (settings, and the
/// monitoring commands' durations); nil for anything else or a negative number.
public func parseSeconds(_ text: String) -> Double? {
    var number = text.trimmingCharacters(in: .whitespaces).lowercased()
    var scale = 1.0
    if number.hasSuffix("ms") {
        number.removeLast(2)
        scale = 0.001
    } else if number.hasSuffix("s") {
        number.removeLast()
    } else if number.hasSuffix("m") {
        number.removeLast()
        scale = 60
    } else if number.hasSuffix("h") {
        number.removeLast()
        scale = 3600
    } else if number.hasSuffix("d") {
        number.removeLast()
        scale = 86_400
    }
    guard let value = Double(number.trimmingCharacters(in: .whitespaces)), value.isFinite, value >= 0 else { return nil }
    return value * scale
}

func formatSeconds(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? "\(Int(value)) s" : "\(value) s"
}
