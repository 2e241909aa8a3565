from django import forms

from .models import Note


class NoteForm(forms.ModelForm):
    class Meta:
        model = Note
        fields = ["title", "body", "pinned"]
        widgets = {
            "title": forms.TextInput(attrs={"placeholder": "Title", "autocomplete": "off"}),
            "body": forms.Textarea(attrs={"placeholder": "Write something…", "rows": 4}),
        }
