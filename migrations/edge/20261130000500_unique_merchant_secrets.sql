-- A merchant's API secret identifies it: where a seed leaves merchant_id out (unsubscribe,
-- confirm_teleaudio_payment), the secret alone names the merchant, so no two may share one.
CREATE UNIQUE INDEX merchants_secret_unique ON merchants (secret);
