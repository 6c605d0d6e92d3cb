# PaySystem. `make up` runs everything locally; `make test` runs every test (real PostgreSQL and
# RabbitMQ); see README.md.
.PHONY: up down demo test bench build fmt lint check

up:
	bash scripts/up.sh

down:
	bash scripts/down.sh

demo:
	bash scripts/demo.sh

# Every test, including those against the real RabbitMQ and PostgreSQL (started if needed).
# The broker-restart test restarts RabbitMQ, which is slow for a while afterwards: it runs last.
test:
	bash scripts/infra.sh
	bash scripts/test-deps.sh
	cargo test --workspace --no-fail-fast
	ALLOW_PLACEHOLDERS=1 bash deploy/validate.sh
	promtool check rules deploy/alerts/paysys-alerts.yml
	cargo test -p paysys-platform --test broker_restart -- --ignored

bench:
	bash scripts/infra.sh
	cargo run --release -p paysys-tests --bin paysys-bench

build:
	cargo build --workspace --bins

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

check: lint test
