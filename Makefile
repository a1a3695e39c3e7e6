PREFIX ?= /usr/local
DESTDIR ?=
BIN = $(shell swift build -c release --show-bin-path 2>/dev/null)/meltano-state
VERBS := list get set merge copy move edit clear export import locks unlock doctor history restore bookmarks rewind reset-stream runs fail-run config check init metrics watch check-health contexts diff sync tui

.PHONY: build test demo bench install uninstall clean
build:
	swift build -c release --product meltano-state
test:
	scripts/test
demo:
	scripts/demo
bench:
	scripts/bench
# The binary, shell completions and the --help text of every command.
install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d \
		$(DESTDIR)$(PREFIX)/share/doc/meltano-state
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/meltano-state
	$(BIN) --generate-completion-script bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/meltano-state
	$(BIN) --generate-completion-script zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_meltano-state
	$(BIN) --generate-completion-script fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/meltano-state.fish
	{ $(BIN) --help; for verb in $(VERBS); do printf '\n\n'; $(BIN) help $$verb; done; } > $(DESTDIR)$(PREFIX)/share/doc/meltano-state/help.txt
	install -m 644 README.md config.example.yml $(DESTDIR)$(PREFIX)/share/doc/meltano-state/
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/meltano-state $(DESTDIR)$(PREFIX)/share/bash-completion/completions/meltano-state \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_meltano-state \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/meltano-state.fish
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/meltano-state
clean:
	rm -rf .build
