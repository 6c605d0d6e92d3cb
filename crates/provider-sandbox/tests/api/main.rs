//! provider-sandbox integration tests: the simulated Mobiltek driven through the DESIGN 7
//! control endpoints, calling back a fake adapter endpoint (port 0) that checks every
//! notification with provider-mobiltek's own code; the simulated Teleaudio likewise (its
//! signatures checked by the test); and a test-only simulator registered beside them.

mod helpers;
mod mobiltek_control;
mod mobiltek_faults;
mod mobiltek_pages;
mod mocopay_api;
mod mocopay_flows;
mod mocopay_support;
mod netopia_card;
mod netopia_soap;
mod netopia_support;
mod registered_simulators;
mod teleaudio;
mod vectors;
