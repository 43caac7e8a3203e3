"""Quantity takeoff: gross and net IFC base quantities from the stored meshes, cross-checked against the
quantity sets the model declares. Entry points: :func:`cim.qto.run.takeoff`, :func:`cim.qto.run.export_csv`,
:func:`cim.qto.run.export_xlsx`, :func:`cim.qto.crosscheck.disagreements`.
"""
