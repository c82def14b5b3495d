def test_settings_put_the_signature_check_before_idempotency(settings):
    middleware = list(settings.MIDDLEWARE)
    signature = middleware.index("jifen.integrations.middleware.IntegrationSignatureMiddleware")
    assert signature + 1 == middleware.index("jifen.core.idempotency.IdempotencyMiddleware")
