"""prestacop_alert_mailer."""
