//! A simulated ESP8266/ESP32 running ArduinoOTA: the peer for tests and `demo`.
