from django.contrib.auth.decorators import login_required, permission_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .forms import NoteForm
from .models import Note


@never_cache
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    notes = request.user.notes.all() if request.user.is_authenticated else None
    return render(request, "notes/home.html", {"count": notes.count() if notes is not None else None,
                                               "recent": notes[:3] if notes is not None else ()})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def note_list(request: HttpRequest) -> HttpResponse:
    form = NoteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.instance.owner = request.user
        form.save()
        return redirect("note_list")
    notes = request.user.notes.all()
    return render(request, "notes/list.html", {"notes": notes, "form": form},
                  status=400 if form.errors else 200)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def note_detail(request: HttpRequest, pk: int) -> HttpResponse:
    note = get_object_or_404(Note, pk=pk, owner=request.user)
    form = NoteForm(request.POST or None, instance=note)
    if request.method == "POST" and form.is_valid():
        form.save()
        return redirect("note_list")
    return render(request, "notes/detail.html", {"note": note, "form": form},
                  status=400 if form.errors else 200)


@login_required
@require_POST
def note_delete(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(Note, pk=pk, owner=request.user).delete()
    return redirect("note_list")


@never_cache
@login_required
@permission_required("notes.view_note", raise_exception=True)
@require_GET
def everyone(request: HttpRequest) -> HttpResponse:
    """Every member's notes, for those granted "Can view note" (Django's own permissions)."""
    notes = Note.objects.select_related("owner")
    return render(request, "notes/everyone.html", {"notes": notes})


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
