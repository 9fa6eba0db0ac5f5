from vetrina.cli import app

app(prog_name="vetrina")
