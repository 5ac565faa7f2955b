"""A thread-safe ``refresh_from_db`` for models with protected FSM fields.

django-fsm-2's ``FSMModelMixin.refresh_from_db`` switches ``protected`` off on the *field
object*, which every instance and every thread shares, and back on afterwards. Two threads
refreshing at once (threaded servers, Celery workers) can then see the flag in the wrong state
and fail with "Direct status modification is not allowed". The descriptor only refuses a write
when the value is already in the instance ``__dict__``, so dropping it from there before the
refresh lets Django set it again without touching the shared field.
"""

from __future__ import annotations

from django.db import models
from django_fsm import FSMFieldMixin


class FSMRefreshMixin(models.Model):
    class Meta:
        abstract = True

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        if fields is None:
            # Name the loaded fields: once the state is dropped from ``__dict__`` below, Django
            # would take it for a deferred field and leave it out of a plain refresh (it would
            # then be read later by one more query, unprotected until then).
            deferred = self.get_deferred_fields()
            fields = [f.attname for f in self._meta.concrete_fields if f.attname not in deferred]
        for field in self._meta.concrete_fields:
            protected = isinstance(field, FSMFieldMixin) and getattr(field, "protected", False)
            if protected and (fields is None or field.name in fields or field.attname in fields):
                self.__dict__.pop(field.attname, None)
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)
