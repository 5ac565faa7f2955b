"""``manage.py verify_audit [--chain brand:7]``: exit 0 when every chain is intact, 1 otherwise."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from audit.services import audit_verify


class Command(BaseCommand):
    help = "Recompute every audit event's hash, follow the chain links and compare with the chain heads."

    def add_arguments(self, parser):
        parser.add_argument("--chain", help='Verify only this chain, e.g. "brand:7" or "global".')
        parser.add_argument("--chunk-size", type=int, default=2000, help="Rows fetched per round trip.")

    def handle(self, *args, chain=None, chunk_size=2000, **options):
        result = audit_verify(chain=chain, chunk_size=chunk_size)
        counts = {"events": result.events_checked, "chains": result.chains_checked}
        if chain is not None and result.chains_checked == 0:
            raise CommandError(_("No audit chain named %(chain)s.") % {"chain": chain})
        if result.ok:
            self.stdout.write(self.style.SUCCESS(
                _("Audit trail intact: %(events)s event(s) in %(chains)s chain(s) verified.") % counts
            ))
            return
        self.stdout.write(_("Checked %(events)s event(s) in %(chains)s chain(s).") % counts)
        for problem in result.problems[1:]:
            self.stderr.write(_("Also broken: %(problem)s") % {"problem": problem})
        raise CommandError(
            _("Audit trail broken (%(count)s problem(s)); first broken %(problem)s")
            % {"count": result.problems_found, "problem": result.first_problem}
        )
