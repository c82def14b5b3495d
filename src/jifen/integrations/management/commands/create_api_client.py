"""`jifen create-api-client NAME`: a new integration client; prints its key id and secret once."""

from django.core.management.base import BaseCommand, CommandError

from jifen.core.errors import DomainError
from jifen.integrations.services import api_client_create


class Command(BaseCommand):
    help = "Create an integration API client and print its key id and secret (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name: str, **options):
        try:
            client, secret = api_client_create(name=name)
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(f"key_id: {client.key_id}\nsecret: {secret}\n")
        self.stderr.write("The secret is shown once; store it in the client's configuration.\n")
