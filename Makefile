.PHONY: build test demo bench clean
build:
	swift build -c release --product meltano-state
test:
	scripts/test
demo:
	scripts/demo
bench:
	scripts/bench
clean:
	rm -rf .build
