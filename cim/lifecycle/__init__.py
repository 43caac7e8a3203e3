"""Stage gates and the lifecycle record: plan -> design -> completion -> handover (see record.py)."""
