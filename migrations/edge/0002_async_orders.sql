-- Asynchronous orders (set_transaction, seed 002): the provider command is kept with the order,
-- so a confirmation that overtakes the queued command can start the payment itself.
ALTER TABLE orders ADD COLUMN start_request BYTEA;
