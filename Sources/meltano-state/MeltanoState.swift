import ArgumentParser

struct MeltanoState: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meltano-state",
        abstract: "See and repair the incremental state Meltano keeps in PostgreSQL.",
        discussion: """
            Reads the same settings as Meltano (meltano.yml, .env, MELTANO_STATE_BACKEND_* variables) and works \
            beside running pipelines: writes take Meltano's lock, and every destructive action saves the previous \
            value to a backup journal first (see `history` and `restore`).

            With no arguments on a terminal it opens the browser (`tui`).

            Examples:
              meltano-state list --pattern 'prod:*'
              meltano-state get prod:tap-github-to-target-postgres
              meltano-state set --force dev:tap-x-to-y '{"singer_state": {}}'
              meltano-state locks --stale
              meltano-state unlock prod:tap-x-to-y 3f1c…   (the lock ID from `locks`)
              meltano-state doctor                          (why is it stuck; safe to release?)

            Exit codes: 0 success, 1 failure, 2 usage error or bad input, 3 lock held by someone else, \
            4 state ID not found, 130 interrupted.
            """,
        version: meltanoStateVersion,
        subcommands: [
            ListCommand.self, GetCommand.self, SetCommand.self, MergeCommand.self, CopyCommand.self,
            MoveCommand.self, EditCommand.self, ClearCommand.self, ExportCommand.self, ImportCommand.self,
            LocksCommand.self, UnlockCommand.self, DoctorCommand.self, HistoryCommand.self, RestoreCommand.self,
            BookmarksCommand.self, RewindCommand.self, ResetStreamCommand.self,
            RunsCommand.self, FailRunCommand.self, ConfigCommand.self, CheckCommand.self, InitCommand.self,
            MetricsCommand.self, WatchCommand.self, CheckHealthCommand.self,
            ContextsCommand.self, DiffCommand.self, SyncCommand.self,
            BrowseCommand.self,
        ]
    )
}

let meltanoStateVersion = "0.1.0"
